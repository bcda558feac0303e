//! Opaque global ids: base64 of `Type:id`, e.g. `VXNlcjo0Mg==` for `User:42`.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::domain::{AppError, AppResult, CategoryId, CommentId, PostId, UserId};

pub fn encode(kind: &str, id: i64) -> ID {
    ID(STANDARD.encode(format!("{kind}:{id}")))
}

/// (type name, row id) of a global id; `field` names the argument for the error.
pub fn decode(field: &str, id: &ID) -> AppResult<(String, i64)> {
    let bad = || AppError::invalid(field, "is not a valid id");
    let bytes = STANDARD.decode(id.as_str().trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (kind, raw) = text.split_once(':').ok_or_else(bad)?;
    let row = raw.parse::<i64>().map_err(|_| bad())?;
    if row <= 0 || kind.is_empty() {
        return Err(bad());
    }
    Ok((kind.to_owned(), row))
}

/// A global id that must name a `kind`.
pub fn decode_as(field: &str, id: &ID, kind: &str) -> AppResult<i64> {
    let (found, row) = decode(field, id)?;
    if found == kind {
        Ok(row)
    } else {
        Err(AppError::invalid(
            field,
            format!("is not the id of a {kind}"),
        ))
    }
}

pub fn user(id: UserId) -> ID {
    encode(UserId::KIND, id.0)
}

pub fn decode_user(field: &str, id: &ID) -> AppResult<UserId> {
    decode_as(field, id, UserId::KIND).map(UserId)
}

pub fn category(id: CategoryId) -> ID {
    encode(CategoryId::KIND, id.0)
}

pub fn decode_category(field: &str, id: &ID) -> AppResult<CategoryId> {
    decode_as(field, id, CategoryId::KIND).map(CategoryId)
}

pub fn post(id: PostId) -> ID {
    encode(PostId::KIND, id.0)
}

pub fn decode_post(field: &str, id: &ID) -> AppResult<PostId> {
    decode_as(field, id, PostId::KIND).map(PostId)
}

pub fn comment(id: CommentId) -> ID {
    encode(CommentId::KIND, id.0)
}

pub fn decode_comment(field: &str, id: &ID) -> AppResult<CommentId> {
    decode_as(field, id, CommentId::KIND).map(CommentId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = encode("User", 42);
        assert_eq!(id.as_str(), "VXNlcjo0Mg==");
        assert_eq!(decode("id", &id).unwrap(), ("User".to_owned(), 42));
        assert!(decode("id", &ID("nope".into())).is_err());
        assert!(decode_as("postId", &id, "Post").is_err());
        assert!(decode("id", &encode("User", -1)).is_err());
    }
}
