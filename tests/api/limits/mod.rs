//! Limits on what one client or member may do: login guesses, sign-ups, writes, document size and cost.

mod cost;
mod cost_model;
mod documents;
mod login;
mod sign_ups;
mod writes;
