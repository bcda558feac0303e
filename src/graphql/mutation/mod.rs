//! Root mutations. Each takes one `input` object and answers a payload, per the Relay convention.

mod accounts;
mod bans;
mod board;
mod moderation;
mod notifications;
mod reports;
mod saves;

use async_graphql::MergedObject;

/// Writes. Each takes one `input` object and answers a payload; most need a signed-in member.
#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountMutations,
    accounts::AdminMutations,
    board::PostMutations,
    board::CommentMutations,
    board::VoteMutations,
    board::CategoryMutations,
    moderation::ModerationMutations,
    bans::BanMutations,
    reports::ReportMutations,
    saves::SaveMutations,
    notifications::NotificationMutations,
);
