//! Scoring one window: z-scores against the baseline, severity, pattern,
//! confidence, the final decision and the top indicators.

#[allow(unused_imports)]
use super::*;

/// Severity of a window's anomaly index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    /// Index < 3.
    Low,
    /// 3 ≤ index < 6.
    Medium,
    /// 6 ≤ index < 10.
    High,
    /// Index ≥ 10.
    Critical,
}

impl Severity {
    /// Bucket of an anomaly index (NaN is LOW).
    pub fn of(index: f64) -> Severity {
        if index >= 10.0 {
            Severity::Critical
        } else if index >= 6.0 {
            Severity::High
        } else if index >= 3.0 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }

    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// Likely attack pattern of an anomalous window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Pattern {
    /// Port fan-out towards few targets (vertical) or address fan-out on short flows (horizontal).
    PortScan,
    /// Many flows converging on one internal target, or a volume/rate surge on one target.
    DDoS,
    /// Destination diversity drops while the packet rate spikes.
    Infiltration,
    /// Many sources with an elevated packet rate.
    WebAttack,
    /// Repeated flows to one login service (SSH, FTP, RDP, …).
    BruteForce,
    /// Internal hosts converging on one public address at a low rate (C2 beaconing).
    Botnet,
    /// No rule matched.
    Unknown,
}

impl Pattern {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::PortScan => "PortScan",
            Pattern::DDoS => "DDoS",
            Pattern::Infiltration => "Infiltration",
            Pattern::WebAttack => "Web Attack",
            Pattern::BruteForce => "Brute force",
            Pattern::Botnet => "Botnet",
            Pattern::Unknown => "Unknown",
        }
    }

    /// What the analyst should do next.
    pub fn action(self) -> &'static str {
        match self {
            Pattern::PortScan => "Find the probing source(s) in this window, check which probed ports answered, and block or rate-limit repeat probes.",
            Pattern::DDoS => "Verify the flood against the target service; rate-limit it and ask upstream to filter the sources.",
            Pattern::Infiltration => "Correlate the internal hosts involved with endpoint telemetry and look for unusual outbound sessions.",
            Pattern::WebAttack => "Review the web server logs for request bursts and exploit signatures from the sources involved.",
            Pattern::BruteForce => "Check the targeted service's authentication log for repeated failures; lock the account or block the source.",
            Pattern::Botnet => "Isolate the internal hosts talking to this external address and inspect them for C2 implants.",
            Pattern::Unknown => "Pivot on the top indicators and correlate with firewall, DNS and endpoint logs.",
        }
    }
}

/// How well the window fits its pattern rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Confidence {
    /// No rule matched.
    Low,
    /// The rule's primary condition matched.
    Medium,
    /// The primary and the corroborating conditions matched.
    High,
}

impl Confidence {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "Low",
            Confidence::Medium => "Medium",
            Confidence::High => "High",
        }
    }
}

/// Final decision of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Decision {
    /// Neither the z-score side nor the forest votes.
    Normal,
    /// Exactly one of them votes.
    Suspicious,
    /// Both vote.
    Confirmed,
}

impl Decision {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Normal => "NORMAL",
            Decision::Suspicious => "SUSPICIOUS",
            Decision::Confirmed => "CONFIRMED",
        }
    }

    /// `CONFIRMED` when both vote, `SUSPICIOUS` when one does, else `NORMAL`.
    pub fn of(z_vote: bool, forest_vote: bool) -> Decision {
        match (z_vote, forest_vote) {
            (true, true) => Decision::Confirmed,
            (false, false) => Decision::Normal,
            _ => Decision::Suspicious,
        }
    }
}

/// When the z-score side votes for an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ZVote {
    /// Severity HIGH or CRITICAL (the reference design).
    Severity,
    /// Severity HIGH or CRITICAL and anomaly index above the benign ceiling.
    #[default]
    Calibrated,
}

/// Destination ports of interactive login / authentication services.
pub const LOGIN_PORTS: [u16; 13] = [
    21, 22, 23, 25, 110, 143, 389, 445, 1433, 3306, 3389, 5432, 5900,
];

/// Pattern and confidence of a window from its features, z-scores and
/// concentration. Rules, first match wins:
///
/// 1. **PortScan** (vertical): `z(ports) ≥ 3` and at least 4 distinct ports per
///    destination; High when `z(dst IPs) ≤ −2` and ≤ 4 packets per flow.
///    (horizontal): `z(dst IPs) ≥ 3`, `z(src IPs) < 0`, ≤ 4 packets per flow; Medium.
/// 2. *Concentrated* means ≥ 80 % of flows go to one address and ≥ 80 % to one
///    port, and `z(dst IPs) ≤ −2`.
///    **Brute force**: concentrated on a [`LOGIN_PORTS`] service; High when
///    `z(src IPs) ≤ −2` too (one attacker).
/// 3. **Botnet**: concentrated on a public address with `z(packet rate) ≤ 0`
///    (low-rate beaconing, not a flood); High when ≥ 2 sources share it.
/// 4. **DDoS**: concentrated, and either a volume/rate surge (`max z` of bytes,
///    packets, packet rate ≥ 3: High) or an internal target (Medium).
///    **DDoS** (many-source flood): ≥ 80 % of flows to one address and one
///    port, `z(src IPs) ≥ 3` and ≤ 2 packets per flow — a SYN flood from
///    many or spoofed sources, where every source is its own one-packet flow
///    and the destination count cannot fall below a small baseline's; Medium.
/// 5. **Infiltration**: `z(dst IPs) ≤ −2` and `z(packet rate) ≥ 3`; Medium.
/// 6. **Web Attack**: `z(src IPs) ≥ 3` and `z(packet rate) ≥ 2` or `z(packets) ≥ 2`; Medium.
/// 7. **Unknown**, Low.
pub fn classify(
    features: &[f64; N_FEATURES],
    z: &[f64; N_FEATURES],
    c: &Concentration,
) -> (Pattern, Confidence) {
    let short_flows = features[F_PPF] <= 4.0;
    if z[F_PORTS] >= 3.0 && features[F_PORTS] >= 4.0 * features[F_DST].max(1.0) {
        let conf = if z[F_DST] <= -2.0 && short_flows {
            Confidence::High
        } else {
            Confidence::Medium
        };
        return (Pattern::PortScan, conf);
    }
    if z[F_DST] >= 3.0 && z[F_SRC] < 0.0 && short_flows {
        return (Pattern::PortScan, Confidence::Medium);
    }
    let concentrated = c.top_dst_ip_share >= 0.8 && c.top_dst_port_share >= 0.8 && z[F_DST] <= -2.0;
    if concentrated {
        if LOGIN_PORTS.contains(&c.top_dst_port) {
            let conf = if z[F_SRC] <= -2.0 {
                Confidence::High
            } else {
                Confidence::Medium
            };
            return (Pattern::BruteForce, conf);
        }
        if c.top_dst_public && z[F_PPS] <= 0.0 {
            let conf = if features[F_SRC] >= 2.0 {
                Confidence::High
            } else {
                Confidence::Medium
            };
            return (Pattern::Botnet, conf);
        }
        let surge = z[F_BYTES].max(z[F_PACKETS]).max(z[F_PPS]) >= 3.0;
        if surge {
            return (Pattern::DDoS, Confidence::High);
        }
        if !c.top_dst_public {
            return (Pattern::DDoS, Confidence::Medium);
        }
    }
    if c.top_dst_ip_share >= 0.8
        && c.top_dst_port_share >= 0.8
        && z[F_SRC] >= 3.0
        && features[F_PPF] <= 2.0
    {
        return (Pattern::DDoS, Confidence::Medium);
    }
    if z[F_DST] <= -2.0 && z[F_PPS] >= 3.0 {
        return (Pattern::Infiltration, Confidence::Medium);
    }
    if z[F_SRC] >= 3.0 && (z[F_PPS] >= 2.0 || z[F_PACKETS] >= 2.0) {
        return (Pattern::WebAttack, Confidence::Medium);
    }
    (Pattern::Unknown, Confidence::Low)
}

/// Baseline statistics of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBaseline {
    /// Feature name.
    pub name: String,
    /// Mean over the baseline windows.
    pub mean: f64,
    /// Population standard deviation over the baseline windows.
    pub std: f64,
    /// Standard deviation used for z-scores ([`guarded_std`]).
    pub std_used: f64,
    /// Median (for reports).
    pub median: f64,
    /// Smallest baseline value.
    pub min: f64,
    /// Largest baseline value.
    pub max: f64,
}

/// `max(std, REL_STD_FLOOR·|mean|, ABS_STD_FLOOR)`: a feature that hardly moves
/// in the baseline must still move by at least 5 % of its mean per unit of z.
pub fn guarded_std(std: f64, mean: f64) -> f64 {
    std.max(REL_STD_FLOOR * mean.abs()).max(ABS_STD_FLOOR)
}

/// z-score of `x` against `mean` and a guarded standard deviation.
pub fn z_score(x: f64, mean: f64, std_used: f64) -> f64 {
    (x - mean) / std_used
}

/// Mean and population standard deviation (0, 0 when empty).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

pub(super) fn median(values: &[f64]) -> f64 {
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// One of the strongest deviations of a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    /// Feature name.
    pub feature: &'static str,
    /// Window value.
    pub value: f64,
    /// Baseline mean.
    pub baseline_mean: f64,
    /// z-score.
    pub z: f64,
}

/// Everything the detector concludes about one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowVerdict {
    /// The window.
    pub window: FlowWindow,
    /// z-scores in [`FEATURES`] order.
    pub z: [f64; N_FEATURES],
    /// `Σ|z|`.
    pub anomaly_index: f64,
    /// Bucket of the index.
    pub severity: Severity,
    /// Whether the z-score side voted.
    pub z_vote: bool,
    /// Forest calibrated score in [0, 1].
    pub forest_score: f64,
    /// Whether the forest voted (score ≥ its unusual threshold).
    pub forest_vote: bool,
    /// Final decision.
    pub decision: Decision,
    /// Likely pattern.
    pub pattern: Pattern,
    /// Confidence in the pattern.
    pub confidence: Confidence,
    /// The three largest `|z|`, strongest first.
    pub top: Vec<Indicator>,
}

impl WindowVerdict {
    /// Whether this window is an alert (not NORMAL).
    pub fn is_alert(&self) -> bool {
        self.decision != Decision::Normal
    }
}
