//! The rules of webhooks that do not depend on HTTP or the database: signing as Standard Webhooks 1.0
//! says (standardwebhooks.com), and which targets the registry may send to.
//!
//! Signing is written here with `hmac` and `sha2` rather than with a webhook crate: it is three lines of
//! the specification, and receivers verify it with any of that project's libraries.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a signing secret as shown to its owner.
const SECRET_PREFIX: &str = "whsec_";
/// How many random bytes a new secret has: Standard Webhooks asks for 24 to 64.
const NEW_SECRET_BYTES: usize = 32;

/// The key a subscription's deliveries are signed with. Its `Display` is the form shown to the owner once,
/// `whsec_` and the base64 of the key; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a signing secret: whsec_ followed by the base64 of 24 to 64 bytes")]
pub struct InvalidSecret;

impl SigningSecret {
    /// A new secret from the operating system's random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = vec![0; NEW_SECRET_BYTES];
        getrandom::fill(&mut key)?;
        Ok(SigningSecret(key))
    }

    /// The `whsec_…` form back into a key (stored secrets, and receivers' copies in tests).
    pub fn parse(text: &str) -> Result<Self, InvalidSecret> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(InvalidSecret)?;
        let key = BASE64.decode(encoded).map_err(|_| InvalidSecret)?;
        if !(24..=64).contains(&key.len()) {
            return Err(InvalidSecret);
        }
        Ok(SigningSecret(key))
    }

    /// The signature of one delivery: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Display for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}{}", BASE64.encode(&self.0))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

/// The `webhook-signature` header: one signature per secret that signs (two while a rotation overlaps),
/// separated by spaces.
pub fn signature_header(secrets: &[SigningSecret], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|secret| secret.sign(message_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// What an address is to the registry's outbound requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Reachable on the internet: always allowed.
    Public,
    /// Loopback or a private network: allowed only when the operator says so (`RBN_WEBHOOK_ALLOW_PRIVATE`).
    Private,
    /// Never a webhook receiver: unspecified, link-local (cloud metadata services live there), multicast,
    /// broadcast, documentation and reserved ranges.
    Forbidden,
}

/// Classifies an address; IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4) are judged by it.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    let forbidden = ip.is_unspecified()
        || a == 0
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a >= 240
        || (a == 192 && b == 0 && c == 0);
    let private = ip.is_loopback()
        || ip.is_private()
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 198 && (18..20).contains(&b)); // benchmarking
    AddressClass::of(forbidden, private)
}

impl AddressClass {
    /// Forbidden wins over private.
    fn of(forbidden: bool, private: bool) -> AddressClass {
        match (forbidden, private) {
            (true, _) => AddressClass::Forbidden,
            (false, true) => AddressClass::Private,
            (false, false) => AddressClass::Public,
        }
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let embedded = |high: u16, low: u16| Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
    match s {
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => return classify_v4(embedded(high, low)), // NAT64
        [0x2002, high, low, ..] => return classify_v4(embedded(high, low)),               // 6to4
        _ => {}
    }
    // AWS's metadata service on IPv6, inside the unique local range.
    let metadata = ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    let forbidden = ip.is_unspecified()
        || metadata
        || ip.is_multicast()
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo: the IPv4 end is not visible
        || (s[..6] == [0; 6] && !ip.is_loopback()); // IPv4-compatible (deprecated) and the reserved ::/96
    let private = ip.is_loopback() || (s[0] & 0xfe00) == 0xfc00; // unique local
    AddressClass::of(forbidden, private)
}

/// Why a URL is not a webhook target.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("must be an absolute https URL")]
    NotHttps,
    #[error("must not contain a user name or password")]
    Credentials,
    #[error("must not point to {0}: only public addresses receive webhooks")]
    NotPublic(IpAddr),
    #[error("must not point to {0}")]
    Forbidden(IpAddr),
}

/// Whether an address may receive deliveries; checked at creation for literal addresses and again for
/// every address a name resolves to at delivery (DNS can change).
pub fn check_address(ip: IpAddr, allow_private: bool) -> Result<(), TargetError> {
    match classify(ip) {
        AddressClass::Public => Ok(()),
        AddressClass::Private if allow_private => Ok(()),
        AddressClass::Private => Err(TargetError::NotPublic(ip)),
        AddressClass::Forbidden => Err(TargetError::Forbidden(ip)),
    }
}

/// Checks a target URL as far as it can be checked without DNS: `https` (or `http` when private targets
/// are allowed), no credentials, and a literal address that may receive deliveries.
pub fn check_target_url(text: &str, allow_private: bool) -> Result<url::Url, TargetError> {
    let url = url::Url::parse(text).map_err(|_| TargetError::NotHttps)?;
    let scheme_ok = url.scheme() == "https" || (allow_private && url.scheme() == "http");
    if !scheme_ok {
        return Err(TargetError::NotHttps);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    match url.host() {
        Some(url::Host::Ipv4(v4)) => check_address(IpAddr::V4(v4), allow_private)?,
        Some(url::Host::Ipv6(v6)) => check_address(IpAddr::V6(v6), allow_private)?,
        Some(url::Host::Domain(name)) => {
            // `localhost` names loopback without DNS (with or without the root's trailing dot).
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                check_address(IpAddr::V4(Ipv4Addr::LOCALHOST), allow_private)?;
            }
        }
        None => return Err(TargetError::NotHttps),
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference tests.
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let other = SigningSecret::generate().unwrap();
        let header = signature_header(&[secret.clone(), other.clone()], "m", 1, b"x");
        assert_eq!(header, format!("{} {}", secret.sign("m", 1, b"x"), other.sign("m", 1, b"x")));
    }

    #[test]
    fn secrets_are_shown_as_whsec_and_never_in_debug() {
        let secret = SigningSecret::generate().unwrap();
        let shown = secret.to_string();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&shown).unwrap(), secret);
        assert_eq!(format!("{secret:?}"), "SigningSecret(…)");
        assert_ne!(SigningSecret::generate().unwrap(), secret);
        for bad in ["", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2hvcnQ=", "whsec_!!!"] {
            assert_eq!(SigningSecret::parse(bad), Err(InvalidSecret), "{bad}");
        }
    }

    #[test]
    fn addresses_are_classified() {
        use AddressClass::*;
        for (ip, class) in [
            ("93.184.216.34", Public),
            ("2a00:1450:4001:82b::200e", Public),
            ("127.0.0.1", Private),
            ("10.1.2.3", Private),
            ("172.31.255.255", Private),
            ("192.168.0.1", Private),
            ("100.64.0.1", Private),
            ("::1", Private),
            ("fd12:3456::1", Private),
            ("::ffff:127.0.0.1", Private),
            ("::ffff:10.0.0.1", Private),
            ("64:ff9b::a00:1", Private),
            ("2002:7f00:1::", Private),
            ("169.254.169.254", Forbidden),
            ("fd00:ec2::254", Forbidden),
            ("::ffff:169.254.169.254", Forbidden),
            ("0.0.0.0", Forbidden),
            ("::", Forbidden),
            ("fe80::1", Forbidden),
            ("224.0.0.1", Forbidden),
            ("255.255.255.255", Forbidden),
            ("240.0.0.1", Forbidden),
            ("192.0.2.1", Forbidden),
            ("::127.0.0.1", Forbidden),
        ] {
            assert_eq!(classify(ip.parse().unwrap()), class, "{ip}");
        }
    }

    #[test]
    fn target_urls_must_be_https_and_public_unless_allowed() {
        assert!(check_target_url("https://hooks.example.org/rbn", false).is_ok());
        assert_eq!(check_target_url("http://hooks.example.org/rbn", false), Err(TargetError::NotHttps));
        assert!(check_target_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(matches!(check_target_url("https://127.0.0.1/hook", false), Err(TargetError::NotPublic(_))));
        assert!(matches!(check_target_url("https://[::1]/hook", false), Err(TargetError::NotPublic(_))));
        assert!(matches!(check_target_url("https://localhost/hook", false), Err(TargetError::NotPublic(_))));
        assert!(matches!(check_target_url("https://LocalHost./hook", false), Err(TargetError::NotPublic(_))));
        assert!(matches!(check_target_url("https://0x7f000001/hook", false), Err(TargetError::NotPublic(_))));
        assert!(matches!(check_target_url("http://169.254.169.254/latest", true), Err(TargetError::Forbidden(_))));
        assert_eq!(check_target_url("https://user:pw@example.org/", false), Err(TargetError::Credentials));
        assert_eq!(check_target_url("ftp://example.org/", true), Err(TargetError::NotHttps));
        assert_eq!(check_target_url("not a url", true), Err(TargetError::NotHttps));
    }
}
