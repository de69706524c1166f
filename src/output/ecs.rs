//! What every Elastic Common Schema record of the sensor shares: the pinned
//! ECS version, the `observer` (this sensor), event severity, and the names
//! ECS gives to DNS opcodes. The record shapes themselves are in
//! [`super::ndjson`]; `tests/fixtures/ecs/` holds the published field
//! definitions they are validated against.

use serde_json::{json, Value};
use std::sync::OnceLock;

/// The ECS version the records follow and are validated against
/// (`tests/fixtures/ecs/ecs_flat-8.11.json`).
pub const ECS_VERSION: &str = "8.11.0";

/// This sensor, as ECS `observer.*` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observer {
    /// `observer.name`: the configured sensor name, else the host name.
    pub name: String,
    /// `observer.hostname`: the host name.
    pub hostname: String,
}

static OBSERVER: OnceLock<Observer> = OnceLock::new();

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sensor".to_string())
}

/// Name the sensor in every record from now on (first call wins; the sensor
/// is assembled once per process). `None` keeps the host name.
pub fn set_observer_name(name: Option<&str>) {
    let hostname = host_name();
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| hostname.clone(), str::to_string);
    let _ = OBSERVER.set(Observer { name, hostname });
}

/// The sensor's identity (the host name unless [`set_observer_name`] said
/// otherwise).
pub fn observer() -> &'static Observer {
    OBSERVER.get_or_init(|| {
        let hostname = host_name();
        Observer {
            name: hostname.clone(),
            hostname,
        }
    })
}

/// `observer` as a JSON object.
pub fn observer_value() -> Value {
    let o = observer();
    json!({
        "type": "sensor",
        "vendor": "sentineldns",
        "product": "sentineldns",
        "version": env!("CARGO_PKG_VERSION"),
        "name": o.name,
        "hostname": o.hostname,
    })
}

/// `observer` as a JSON fragment (`"observer":{…}`), for the hand-formatted
/// lookup lines. Built once.
pub fn observer_fragment() -> &'static [u8] {
    static FRAG: OnceLock<Vec<u8>> = OnceLock::new();
    FRAG.get_or_init(|| {
        let mut v = b"\"observer\":".to_vec();
        let _ = serde_json::to_writer(&mut v, &observer_value());
        v
    })
}

/// `event.severity` of a verdict label: 1 Normal, 2 Unusual, 3 Likely
/// Compromise (higher is worse, as ECS asks; the label id of
/// `sentineldns.label_id` plus one).
pub fn severity(label: crate::model::Label) -> u8 {
    match label {
        crate::model::Label::Normal => 1,
        crate::model::Label::Unusual => 2,
        crate::model::Label::LikelyCompromise => 3,
    }
}

/// The mnemonic of a DNS OPCODE (RFC 6895 registry), as `dns.op_code`.
pub fn opcode_name(op: u8) -> std::borrow::Cow<'static, str> {
    match op {
        0 => "QUERY".into(),
        1 => "IQUERY".into(),
        2 => "STATUS".into(),
        4 => "NOTIFY".into(),
        5 => "UPDATE".into(),
        6 => "DSO".into(),
        n => n.to_string().into(),
    }
}
