//! Value types with a grammar of their own. Each parses from a string, keeps the text it was
//! written as (so generated files say what the author said), and can only hold a valid value.
//!
//! Each type's JSON Schema carries a `format` naming its grammar; the contract loader checks
//! those formats so that every bad value in a document is reported at once.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Why a value did not parse; the text is shown to the contract's author as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

macro_rules! string_newtype {
    ($ty:ident, $format:literal, $parse:path) => {
        impl FromStr for $ty {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                $parse(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = ValueError;
            fn try_from(s: String) -> Result<Self, ValueError> {
                s.parse()
            }
        }
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.as_str().to_owned()
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "format": $format })
            }
        }
    };
}

/// A DNS-1123 label: 1–63 lower-case letters, digits and `-`, starting and ending alphanumeric.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DnsLabel(String);

impl DnsLabel {
    /// The label's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(s: &str) -> Result<Self, ValueError> {
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        let problem = if s.is_empty() {
            Some("must not be empty")
        } else if s.len() > 63 {
            Some("must be at most 63 characters")
        } else if !s.chars().all(ok_char) {
            Some("may hold only lower-case letters, digits and '-'")
        } else if s.starts_with('-') || s.ends_with('-') {
            Some("must start and end with a letter or digit")
        } else {
            None
        };
        match problem {
            None => Ok(Self(s.to_owned())),
            Some(why) => Err(ValueError(format!(
                "`{s}` is not a DNS-1123 label: it {why} (e.g. `my-app-1`)"
            ))),
        }
    }
}
string_newtype!(DnsLabel, "dns1123-label", DnsLabel::parse);

/// An environment variable name: letters, digits and `_`, not starting with a digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvName(String);

impl EnvName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(s: &str) -> Result<Self, ValueError> {
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValueError(format!(
                "`{s}` is not an environment variable name: use letters, digits and '_', not starting with a digit (e.g. `GITHUB_TOKEN`)"
            )))
        }
    }
}
string_newtype!(EnvName, "env-name", EnvName::parse);

/// A container image reference, optionally pinned by digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef(String);

impl ImageRef {
    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `sha256:…` digest, when the reference is pinned.
    pub fn digest(&self) -> Option<&str> {
        self.0.split_once('@').map(|(_, d)| d)
    }

    fn parse(s: &str) -> Result<Self, ValueError> {
        let bad = |why: &str| {
            Err(ValueError(format!(
                "`{s}` is not a container image reference: {why} (e.g. `quay.io/org/image:tag@sha256:<64 hex digits>`)"
            )))
        };
        if s.is_empty() {
            return bad("it is empty");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("it contains white space");
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        if name.is_empty() {
            return bad("the name before `@` is empty");
        }
        if name.chars().any(|c| c.is_ascii_uppercase()) && !name.contains('/') {
            return bad("repository names are lower case");
        }
        if let Some(d) = digest {
            let Some(hexpart) = d.strip_prefix("sha256:") else {
                return bad("the digest must start with `sha256:`");
            };
            if hexpart.len() != 64 || !hexpart.chars().all(|c| c.is_ascii_hexdigit()) {
                return bad("a sha256 digest has exactly 64 hex digits");
            }
        }
        Ok(Self(s.to_owned()))
    }
}
string_newtype!(ImageRef, "image-ref", ImageRef::parse);

/// An IPv4 or IPv6 network in CIDR form (`10.20.0.0/16`), host bits zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cidr {
    text: String,
    net: ipnet::IpNet,
}

impl Cidr {
    /// The network as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed network.
    pub fn net(&self) -> ipnet::IpNet {
        self.net
    }

    fn parse(s: &str) -> Result<Self, ValueError> {
        let net: ipnet::IpNet = s.parse().map_err(|_| {
            ValueError(format!(
                "`{s}` is not a CIDR network: write an address and a prefix length, e.g. `10.20.0.0/16` or `fd00::/8`"
            ))
        })?;
        if net.trunc() != net {
            return Err(ValueError(format!(
                "`{s}` has host bits set: the network is `{}`",
                net.trunc()
            )));
        }
        Ok(Self {
            text: s.to_owned(),
            net,
        })
    }
}
string_newtype!(Cidr, "cidr", Cidr::parse);

/// A Go-style duration (`90s`, `15m`, `1h30m`), as Kubernetes and Coder write them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GoDuration {
    text: String,
    value: Duration,
}

impl GoDuration {
    /// The duration as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed duration.
    pub fn duration(&self) -> Duration {
        self.value
    }

    fn parse(s: &str) -> Result<Self, ValueError> {
        let bad = || {
            ValueError(format!(
                "`{s}` is not a duration: write a number and a unit (`ms`, `s`, `m`, `h`), e.g. `90s`, `15m` or `1h30m`"
            ))
        };
        if s.is_empty() {
            return Err(bad());
        }
        let mut rest = s;
        let mut total = Duration::ZERO;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            if digits == 0 {
                return Err(bad());
            }
            let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let seconds = match &rest[..unit_len] {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total += Duration::try_from_secs_f64(number * seconds).map_err(|_| bad())?;
        }
        Ok(Self {
            text: s.to_owned(),
            value: total,
        })
    }
}
string_newtype!(GoDuration, "go-duration", GoDuration::parse);

/// A Kubernetes resource quantity (`500m`, `2`, `512Mi`, `1.5Gi`, `1e3`), kept as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    text: String,
    value: f64,
}

impl Quantity {
    /// The quantity as written (numbers are written in their shortest form).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The quantity's value in base units (cores for CPU, bytes for memory).
    pub fn value(&self) -> f64 {
        self.value
    }

    fn parse(s: &str) -> Result<Self, ValueError> {
        let bad = |why: &str| {
            ValueError(format!(
                "`{s}` is not a Kubernetes quantity: {why} (e.g. `500m`, `2`, `512Mi`, `2Gi`)"
            ))
        };
        if s.starts_with('-') {
            return Err(bad("it must not be negative"));
        }
        let body = s.strip_prefix('+').unwrap_or(s);
        let split = body
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body.len());
        let (number, suffix) = body.split_at(split);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(bad("it must start with a decimal number"));
        }
        let mantissa: f64 = number.parse().map_err(|_| bad("the number is malformed"))?;
        let multiplier = match suffix {
            "" => 1.0,
            "n" => 1e-9,
            "u" => 1e-6,
            "m" => 1e-3,
            "k" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            "T" => 1e12,
            "P" => 1e15,
            "E" => 1e18,
            "Ki" => 1024f64,
            "Mi" => 1024f64.powi(2),
            "Gi" => 1024f64.powi(3),
            "Ti" => 1024f64.powi(4),
            "Pi" => 1024f64.powi(5),
            "Ei" => 1024f64.powi(6),
            exp if exp.starts_with(['e', 'E']) => {
                let e: i32 = exp[1..]
                    .parse()
                    .map_err(|_| bad("the exponent is malformed"))?;
                10f64.powi(e)
            }
            other => {
                let hint = match other.to_ascii_lowercase().as_str() {
                    "gb" | "g" => " (did you mean `Gi` or `G`?)",
                    "mb" => " (did you mean `Mi` or `M`?)",
                    "kb" => " (did you mean `Ki` or `k`?)",
                    "tb" => " (did you mean `Ti` or `T`?)",
                    _ => "",
                };
                return Err(bad(&format!("unknown suffix `{other}`{hint}")));
            }
        };
        Ok(Self {
            text: s.to_owned(),
            value: mantissa * multiplier,
        })
    }
}

impl FromStr for Quantity {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Quantity::parse(s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Int(u64),
            Float(f64),
        }
        let text = match Repr::deserialize(d)? {
            Repr::Text(s) => s,
            Repr::Int(n) => n.to_string(),
            Repr::Float(x) => x.to_string(),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "number"],
            "format": "k8s-quantity",
            "minimum": 0,
        })
    }
}

pub use super::permission::PermissionPattern;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_as_kubernetes_does() {
        assert_eq!("500m".parse::<Quantity>().unwrap().value(), 0.5);
        assert_eq!(
            "2Gi".parse::<Quantity>().unwrap().value(),
            2.0 * 1024f64.powi(3)
        );
        assert_eq!("1e3".parse::<Quantity>().unwrap().value(), 1000.0);
        for bad in ["2Gb", "-1", "1.5.0", "", "Gi", "1 Gi", "."] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad} should not parse");
        }
        let err = "2Gb".parse::<Quantity>().unwrap_err().to_string();
        assert!(err.contains("did you mean `Gi`"), "{err}");
    }

    #[test]
    fn durations_follow_go_syntax() {
        assert_eq!(
            "1h30m".parse::<GoDuration>().unwrap().duration(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            "250ms".parse::<GoDuration>().unwrap().duration(),
            Duration::from_millis(250)
        );
        for bad in ["15 minutes", "15", "m", "", "1d", "1h-"] {
            assert!(bad.parse::<GoDuration>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn dns_labels_are_checked() {
        assert!("ruby-agent".parse::<DnsLabel>().is_ok());
        for bad in ["Ruby", "-a", "a-", "a_b", "", &"a".repeat(64)] {
            assert!(bad.parse::<DnsLabel>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn cidrs_must_be_networks() {
        assert!("10.20.0.0/16".parse::<Cidr>().is_ok());
        assert!("fd00::/8".parse::<Cidr>().is_ok());
        assert!("10.20.0.1/16".parse::<Cidr>().is_err());
        assert!("10.20.0.0/33".parse::<Cidr>().is_err());
        assert!("example.com".parse::<Cidr>().is_err());
    }

    #[test]
    fn image_digests_are_checked() {
        let pinned = format!("quay.io/a/b:1@sha256:{}", "a".repeat(64));
        assert_eq!(
            pinned.parse::<ImageRef>().unwrap().digest(),
            Some(&*format!("sha256:{}", "a".repeat(64)))
        );
        assert_eq!("alpine:3".parse::<ImageRef>().unwrap().digest(), None);
        assert!("alpine@sha256:abc".parse::<ImageRef>().is_err());
        assert!("alpine 3".parse::<ImageRef>().is_err());
    }
}
