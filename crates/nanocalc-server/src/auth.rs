//! The optional bearer token: every call to a guarded service must carry
//! `authorization: Bearer <token>`, or it is refused with UNAUTHENTICATED before anything is read
//! or computed.

use tonic::{Request, Status};

/// A tonic interceptor checking the bearer token (constant-time in the token's contents).
#[derive(Clone)]
pub struct BearerToken {
    expected: Option<Vec<u8>>,
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerToken").field("required", &self.expected.is_some()).finish()
    }
}

impl BearerToken {
    /// `None` lets every call through.
    pub fn new(token: Option<&str>) -> Self {
        BearerToken { expected: token.map(|t| format!("Bearer {t}").into_bytes()) }
    }

    pub fn check(&self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else { return Ok(request) };
        match request.metadata().get("authorization") {
            Some(given) if constant_time_eq(given.as_bytes(), expected) => Ok(request),
            Some(_) => Err(Status::unauthenticated("invalid bearer token")),
            None => Err(Status::unauthenticated("missing bearer token (authorization: Bearer <token>)")),
        }
    }
}

/// Compares without an early exit on the first differing byte (the length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn with(value: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(value) = value {
            request.metadata_mut().insert("authorization", value.parse().unwrap());
        }
        request
    }

    #[test]
    fn without_a_token_everything_passes() {
        let open = BearerToken::new(None);
        assert!(open.check(with(None)).is_ok());
        assert!(open.check(with(Some("Bearer anything"))).is_ok());
    }

    #[test]
    fn with_a_token_only_the_exact_bearer_passes() {
        let guarded = BearerToken::new(Some("s3cret"));
        assert!(guarded.check(with(Some("Bearer s3cret"))).is_ok());
        for wrong in
            [None, Some("Bearer s3cre"), Some("Bearer s3cret2"), Some("bearer s3cret"), Some("s3cret"), Some("")]
        {
            let status = guarded.check(with(wrong)).unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{wrong:?}");
        }
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
