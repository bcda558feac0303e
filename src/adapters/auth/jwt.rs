//! HS256 access tokens with the algorithm, issuer and audience pinned at verification. Tokens that verified
//! are remembered for a minute (their claims, by the whole token), so a client's every request does not
//! decode and check the same token again; a remembered token still expires at its own time.

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{AppError, AppResult, Role, UserId};
use crate::ports::{AccessClaims, TokenService};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    exp: i64,
    iat: i64,
    iss: String,
    aud: String,
    jti: String,
}

/// How many verified tokens are remembered, and for how long at most.
const VERIFIED_TOKENS: u64 = 10_000;
const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(60);

pub struct JwtTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: chrono::Duration,
    /// Tokens that verified (the whole token as sent: another signature is another key), with their claims.
    verified: moka::sync::Cache<String, AccessClaims>,
}

impl JwtTokens {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl: chrono::Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2_000)),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(VERIFIED_FOR)
                .build(),
        }
    }

    /// The claims of `token`, remembered or decoded; `now` decides whether a remembered token has expired
    /// (with the same leeway as a decoded one).
    fn verify_at(&self, token: &str, now: DateTime<Utc>) -> AppResult<AccessClaims> {
        if let Some(claims) = self.verified.get(token) {
            let leeway = i64::try_from(self.validation.leeway).unwrap_or(i64::MAX);
            if claims.expires_at.timestamp() < now.timestamp().saturating_sub(leeway) {
                self.verified.invalidate(token);
                return Err(unauthenticated());
            }
            return Ok(claims);
        }
        let claims = self.decode(token)?;
        self.verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    fn decode(&self, token: &str) -> AppResult<AccessClaims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| unauthenticated())?;
        let claims = data.claims;
        let user_id = claims
            .sub
            .parse::<i64>()
            .map(UserId)
            .map_err(|_| unauthenticated())?;
        let role = Role::from_db_name(&claims.role).ok_or_else(unauthenticated)?;
        let expires_at = Utc
            .timestamp_opt(claims.exp, 0)
            .single()
            .ok_or_else(unauthenticated)?;
        Ok(AccessClaims {
            user_id,
            role,
            expires_at,
        })
    }
}

fn unauthenticated() -> AppError {
    AppError::Unauthenticated("the access token is invalid or expired".into())
}

impl TokenService for JwtTokens {
    fn issue(
        &self,
        user_id: UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> AppResult<(String, DateTime<Utc>)> {
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user_id.0.to_string(),
            role: role.as_db_name().to_owned(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::internal(format!("jwt encode: {e}")))?;
        Ok((token, expires_at))
    }

    fn verify(&self, token: &str) -> AppResult<AccessClaims> {
        self.verify_at(token, Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let tokens = JwtTokens::new(b"0123456789abcdef0123456789abcdef", "board", "board", 900);
        let now = Utc::now();
        let (token, _) = tokens.issue(UserId(7), Role::Admin, now).unwrap();
        let claims = tokens.verify(&token).unwrap();
        assert_eq!(claims.user_id, UserId(7));
        assert_eq!(claims.role, Role::Admin);

        let other_key = JwtTokens::new(b"another-secret-another-secret-xx", "board", "board", 900);
        assert_eq!(
            other_key.verify(&token).unwrap_err().code(),
            "UNAUTHENTICATED"
        );
        let other_aud = JwtTokens::new(
            b"0123456789abcdef0123456789abcdef",
            "board",
            "elsewhere",
            900,
        );
        assert!(other_aud.verify(&token).is_err());

        let (old, _) = tokens
            .issue(UserId(7), Role::User, now - chrono::Duration::hours(1))
            .unwrap();
        assert!(
            tokens.verify(&old).is_err(),
            "an expired token must not verify"
        );

        // `alg: none` and other algorithms are refused.
        let header = Header::new(Algorithm::HS512);
        let claims = Claims {
            sub: "7".into(),
            role: "admin".into(),
            exp: (now + chrono::Duration::hours(1)).timestamp(),
            iat: now.timestamp(),
            iss: "board".into(),
            aud: "board".into(),
            jti: "x".into(),
        };
        let hs512 = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(tokens.verify(&hs512).is_err());
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_changed_one_is_verified_again() {
        let tokens = JwtTokens::new(b"0123456789abcdef0123456789abcdef", "board", "board", 60);
        let now = Utc::now();
        let (token, expires_at) = tokens.issue(UserId(7), Role::User, now).unwrap();
        assert_eq!(tokens.verify(&token).unwrap().user_id, UserId(7));
        assert_eq!(
            tokens.verified.get(&token).map(|c| c.user_id),
            Some(UserId(7))
        );
        // Remembered, it answers until its expiry plus the leeway, and not after.
        let leeway = chrono::Duration::seconds(5);
        assert!(tokens.verify_at(&token, expires_at + leeway).is_ok());
        let late = expires_at + leeway + chrono::Duration::seconds(1);
        assert_eq!(
            tokens.verify_at(&token, late).unwrap_err().code(),
            "UNAUTHENTICATED"
        );
        assert!(
            tokens.verified.get(&token).is_none(),
            "forgotten once expired"
        );
        // Another signature on the same claims is another token: verified, and refused.
        let (head, signature) = token.rsplit_once('.').unwrap();
        let mut forged = signature.as_bytes().to_vec();
        forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
        let forged = format!("{head}.{}", String::from_utf8(forged).unwrap());
        assert!(tokens.verify(&token).is_ok());
        assert!(tokens.verify(&forged).is_err());
        assert!(tokens.verified.get(&forged).is_none());
    }
}
