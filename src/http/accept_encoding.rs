//! `Accept-Encoding` (RFC 9110 §12.5.3): which of the codings a response is stored in the client takes.
//!
//! Each listed coding has a weight (`q`, 0 to 1, default 1; `q=0` refuses it). A coding not listed takes the
//! weight of `*` if present, otherwise it is refused; `identity` (no coding) is acceptable unless refused by
//! `identity;q=0` or `*;q=0`. Among the stored codings the client accepts, the heaviest wins, ties going to the
//! order the server offers them in (smallest first). No header, an empty one, or nothing acceptable means identity:
//! these answers never refuse with 406, since every client can read the identity bytes.

use axum::http::HeaderValue;

/// A content coding a response may be stored in besides identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    /// Its `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }

    fn matches(self, name: &str) -> bool {
        match self {
            Coding::Brotli => name.eq_ignore_ascii_case("br"),
            // RFC 9110 §8.4.1.3: `x-gzip` is gzip.
            Coding::Gzip => {
                name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")
            }
        }
    }
}

/// The coding to send, given the request's `Accept-Encoding` values and the codings the response is stored in
/// (the server's preference first); `None` is identity.
pub fn negotiate<'a>(
    accept: impl IntoIterator<Item = &'a HeaderValue>,
    offered: &[Coding],
) -> Option<Coding> {
    let listed: Vec<(&str, u16)> = accept
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(element)
        .collect();
    let explicit = |matches: &dyn Fn(&str) -> bool| {
        listed
            .iter()
            .find(|(name, _)| matches(name))
            .map(|&(_, q)| q)
    };
    let any = explicit(&|name| name == "*");
    let mut best: Option<(Coding, u16)> = None;
    for &coding in offered {
        let q = explicit(&|name| coding.matches(name)).or(any).unwrap_or(0);
        if q > 0 && best.is_none_or(|(_, top)| q > top) {
            best = Some((coding, q));
        }
    }
    let (coding, q) = best?;
    // Identity wins only when the client weighs it above every coding it accepts.
    match explicit(&|name| name.eq_ignore_ascii_case("identity")).or(any) {
        Some(identity) if identity > q => None,
        _ => Some(coding),
    }
}

/// One list element, `coding[;q=weight]`: its name (compared without case) and its weight in thousandths; `None`
/// for an empty element or a malformed parameter (the element is then ignored).
fn element(element: &str) -> Option<(&str, u16)> {
    let mut parts = element.split(';');
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let mut q = 1000;
    for parameter in parts {
        let (key, value) = parameter.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("q") {
            q = weight(value.trim())?;
        }
    }
    Some((name, q))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn weight(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: &[Coding] = &[Coding::Brotli, Coding::Gzip];

    fn pick(values: &[&str], offered: &[Coding]) -> Option<Coding> {
        let values: Vec<HeaderValue> = values
            .iter()
            .map(|v| HeaderValue::from_str(v).expect("a header value"))
            .collect();
        negotiate(&values, offered)
    }

    #[test]
    fn no_header_or_an_empty_one_is_identity() {
        assert_eq!(pick(&[], BOTH), None);
        assert_eq!(pick(&[""], BOTH), None);
        assert_eq!(pick(&[" , "], BOTH), None);
    }

    #[test]
    fn what_browsers_send_gets_brotli_and_gzip_only_clients_get_gzip() {
        assert_eq!(
            pick(&["gzip, deflate, br, zstd"], BOTH),
            Some(Coding::Brotli)
        );
        assert_eq!(pick(&["gzip, deflate"], BOTH), Some(Coding::Gzip));
        assert_eq!(pick(&["x-gzip"], BOTH), Some(Coding::Gzip));
        assert_eq!(pick(&["GZIP"], BOTH), Some(Coding::Gzip));
        assert_eq!(pick(&["deflate, zstd"], BOTH), None);
        // Values spread over several header lines count as one list.
        assert_eq!(pick(&["gzip", "br"], BOTH), Some(Coding::Brotli));
    }

    #[test]
    fn a_zero_weight_refuses_a_coding() {
        assert_eq!(pick(&["br;q=0, gzip"], BOTH), Some(Coding::Gzip));
        assert_eq!(pick(&["br; q=0.000, gzip"], BOTH), Some(Coding::Gzip));
        assert_eq!(pick(&["gzip;q=0, br;q=0"], BOTH), None);
        assert_eq!(pick(&["br;Q=0"], BOTH), None);
    }

    #[test]
    fn weights_order_the_codings_and_ties_go_to_the_server() {
        assert_eq!(pick(&["br;q=0.5, gzip;q=0.8"], BOTH), Some(Coding::Gzip));
        assert_eq!(pick(&["gzip;q=0.8, br;q=0.8"], BOTH), Some(Coding::Brotli));
        assert_eq!(pick(&["br;q=0.001"], BOTH), Some(Coding::Brotli));
        // Only the codings the response is stored in count.
        assert_eq!(
            pick(&["br, gzip;q=0.1"], &[Coding::Gzip]),
            Some(Coding::Gzip)
        );
        assert_eq!(pick(&["br"], &[]), None);
    }

    #[test]
    fn the_wildcard_weighs_every_coding_not_listed() {
        assert_eq!(pick(&["*"], BOTH), Some(Coding::Brotli));
        assert_eq!(pick(&["br;q=0, *"], BOTH), Some(Coding::Gzip));
        assert_eq!(pick(&["*;q=0"], BOTH), None);
        assert_eq!(pick(&["gzip, *;q=0"], BOTH), Some(Coding::Gzip));
        assert_eq!(pick(&["*;q=0.2, gzip;q=0.5"], BOTH), Some(Coding::Gzip));
    }

    #[test]
    fn identity_wins_only_when_weighed_above_the_codings() {
        assert_eq!(pick(&["br;q=0.5, identity"], BOTH), None);
        assert_eq!(pick(&["br, identity;q=0.5"], BOTH), Some(Coding::Brotli));
        assert_eq!(pick(&["br;q=0.5, *;q=0.9"], BOTH), Some(Coding::Gzip));
        // Identity refused and nothing else acceptable: identity all the same, never 406.
        assert_eq!(pick(&["identity;q=0"], BOTH), None);
        assert_eq!(pick(&["identity;q=0, gzip"], BOTH), Some(Coding::Gzip));
    }

    #[test]
    fn malformed_weights_drop_their_element_only() {
        for bad in [
            "br;q=2",
            "br;q=1.5",
            "br;q=0.1234",
            "br;q=-1",
            "br;q=",
            "br;q=x",
            "br;q=.5",
            "br;q",
        ] {
            assert_eq!(
                pick(&[&format!("{bad}, gzip")], BOTH),
                Some(Coding::Gzip),
                "{bad}"
            );
        }
        assert_eq!(pick(&["br;q=1.000"], BOTH), Some(Coding::Brotli));
        assert_eq!(pick(&["br;q=1."], BOTH), Some(Coding::Brotli));
        // Other parameters are ignored.
        assert_eq!(pick(&["br;level=5"], BOTH), Some(Coding::Brotli));
    }

    #[test]
    fn weights_parse_to_thousandths() {
        assert_eq!(weight("0"), Some(0));
        assert_eq!(weight("0.5"), Some(500));
        assert_eq!(weight("0.05"), Some(50));
        assert_eq!(weight("0.001"), Some(1));
        assert_eq!(weight("1"), Some(1000));
        assert_eq!(weight("1.0"), Some(1000));
        assert_eq!(weight("1.001"), None);
        assert_eq!(weight("0.+1"), None);
    }
}
