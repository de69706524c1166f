//! The Slack-compatible messages of an incident alert ([`incident_payload`],
//! what the sensor sends) and of a single flagged window ([`slack_payload`]):
//! text, blocks and a coloured attachment, escaped and truncated for Slack.

use crate::aggregate::HostWindow;
use crate::detect::Verdict;
use crate::event::MICROS;
use crate::incident::{EventKind, IncidentEvent};
use crate::model::Label;
use crate::time::minute_micros;
use serde_json::{json, Value};

/// Escape text for Slack `mrkdwn` (`&`, `<`, `>`).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `n` characters (an ellipsis marks a cut).
fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n.saturating_sub(1)) {
        Some((i, _)) if s.len() > i + 1 => format!("{}…", &s[..i]),
        _ => s.to_string(),
    }
}

/// The Slack-compatible message for a flagged window: `text` (notification
/// and fallback), `blocks` (host, verdict, score, window, reason tags,
/// explanation, top and riskiest domains) and one coloured `attachment`.
pub fn slack_payload(w: &HostWindow, v: &Verdict) -> Value {
    let host = w.host.to_string();
    let tags: Vec<&str> = v.reasons.iter().map(|r| r.tag).collect();
    let tag_text = if tags.is_empty() {
        "none".to_string()
    } else {
        tags.iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (emoji, color) = style(v.label);
    let text = format!(
        "{emoji} {}: {host} (score {:.2}){}",
        v.label.as_str(),
        v.score,
        if tags.is_empty() {
            String::new()
        } else {
            format!(" — {}", tags.join(", "))
        }
    );
    let top: Vec<String> = w
        .top_domains
        .iter()
        .take(5)
        .map(|d| format!("{} ({})", truncate(&d.name, 80), d.count))
        .collect();
    let risky: Vec<String> = w
        .risky_domains
        .iter()
        .filter(|d| d.risk >= 0.5)
        .take(5)
        .map(|d| format!("{} (risk {:.2})", truncate(&d.name, 80), d.risk))
        .collect();
    let mut domains = format!(
        "*Top domains:* {}",
        if top.is_empty() {
            "none".to_string()
        } else {
            top.join(", ")
        }
    );
    if !risky.is_empty() {
        domains.push_str(&format!("\n*Riskiest:* {}", risky.join(", ")));
    }
    message(Message {
        header: format!("{} {}: {host}", emoji, v.label.as_str()),
        text,
        fields: [
            format!("*Host*\n`{host}`"),
            format!("*Verdict*\n{} (score {:.2})", v.label.as_str(), v.score),
            format!(
                "*Window (UTC)*\n{} – {}",
                minute_micros(w.start),
                minute_micros(w.end)
            ),
            tag_text,
        ],
        body: &v.explanation,
        context: domains,
        color,
        ts: w.end.div_euclid(MICROS),
    })
}

/// The Slack-compatible message for an incident that opened or escalated:
/// `text` (notification and fallback), `blocks` (incident id and action,
/// host, peak verdict, span, windows, reason tags with window counts, the
/// peak window's explanation, top domains) and one coloured `attachment`.
pub fn incident_payload(e: &IncidentEvent) -> Value {
    let i = &e.incident;
    let host = slack_escape(&i.host);
    let (emoji, color) = style(i.peak_label);
    let action = match e.kind {
        EventKind::Escalated => "escalated",
        _ => "opened",
    };
    let tags: Vec<String> = i
        .reason_tags()
        .iter()
        .map(|(t, n)| format!("`{t}` ×{n}"))
        .collect();
    let tag_text = if tags.is_empty() {
        "none".to_string()
    } else {
        tags.join(", ")
    };
    let plain_tags: Vec<&str> = i.reason_tags().iter().map(|(t, _)| *t).collect();
    let text = format!(
        "{emoji} Incident #{} {action} — {}: {host} (peak score {:.2}, {} windows){}",
        i.id,
        i.peak_label.as_str(),
        i.peak_score,
        i.windows,
        if plain_tags.is_empty() {
            String::new()
        } else {
            format!(" — {}", plain_tags.join(", "))
        }
    );
    let domains: Vec<String> = i
        .top_domains()
        .iter()
        .map(|(d, n)| format!("{} ({n})", truncate(d, 80)))
        .collect();
    let domains = format!(
        "*Domains:* {}",
        if domains.is_empty() {
            "none".to_string()
        } else {
            domains.join(", ")
        }
    );
    let us = |s: i64| s.saturating_mul(MICROS);
    message(Message {
        header: format!("{emoji} Incident #{} {action}: {}", i.id, i.host),
        text,
        fields: [
            format!("*Host*\n`{host}`"),
            format!(
                "*Peak verdict*\n{} (score {:.2})",
                i.peak_label.as_str(),
                i.peak_score
            ),
            format!(
                "*Seen (UTC)*\n{} – {} ({} windows)",
                minute_micros(us(i.first_seen)),
                minute_micros(us(i.last_seen)),
                i.windows
            ),
            tag_text,
        ],
        body: &i.explanation,
        context: domains,
        color,
        ts: i.updated_at,
    })
}

/// Emoji and attachment colour of a verdict.
fn style(label: Label) -> (&'static str, &'static str) {
    match label {
        Label::LikelyCompromise => (":rotating_light:", "#d40e0d"),
        Label::Unusual => (":warning:", "#e8a33d"),
        Label::Normal => (":information_source:", "#439fe0"),
    }
}

/// The parts of a Slack message that differ between a window alert and an
/// incident alert.
struct Message<'a> {
    header: String,
    text: String,
    /// Host, verdict, time span; the reason tags (escaped and truncated here).
    fields: [String; 4],
    body: &'a str,
    context: String,
    color: &'a str,
    ts: i64,
}

/// One Slack-compatible message: `text`, header, fields, explanation and
/// domains blocks, one coloured attachment. Every text is escaped and held
/// to Slack's block limits.
fn message(m: Message<'_>) -> Value {
    let [host, verdict, span, tags] = m.fields;
    json!({
        "text": slack_escape(&m.text),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": truncate(&m.header, 150),
                    "emoji": true
                }
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": host},
                    {"type": "mrkdwn", "text": verdict},
                    {"type": "mrkdwn", "text": span},
                    {"type": "mrkdwn", "text": truncate(&format!("*Reasons*\n{}", slack_escape(&tags)), 2000)}
                ]
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(&slack_escape(m.body), 2900)}
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": truncate(&slack_escape(&m.context), 2900)}]
            }
        ],
        "attachments": [{
            "color": m.color,
            "fallback": slack_escape(&m.text),
            "footer": format!("sentineldns {}", env!("CARGO_PKG_VERSION")),
            "ts": m.ts
        }]
    })
}

/// The Slack-compatible update of an incident whose language-model triage
/// arrived (issue 16): the verdict — category, threat score, confidence,
/// summary, recommended actions — marked advisory (it never changes the
/// incident's label). Model text is attacker-influenced: escaped and cut
/// like every other text here.
pub fn triage_payload(r: &crate::triage::TriageRecord) -> Option<Value> {
    let t = r.triage.as_ref()?;
    let host = slack_escape(&r.host);
    let text = format!(
        "🧠 Incident #{} ({}): triage {} — threat {}/100, confidence {} (advisory)",
        r.incident_id, r.host, t.category, t.threat_score, t.confidence
    );
    let actions: Vec<String> = t
        .recommended_actions
        .iter()
        .map(|a| format!("• {}", truncate(a, 300)))
        .collect();
    let body = if actions.is_empty() {
        t.summary.clone()
    } else {
        format!("{}\n{}", t.summary, actions.join("\n"))
    };
    Some(json!({
        "text": slack_escape(&text),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": truncate(&format!("🧠 Triage of incident #{}: {}", r.incident_id, r.host), 150),
                    "emoji": true
                }
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": format!("*Host*\n`{host}`")},
                    {"type": "mrkdwn", "text": truncate(&format!("*Category*\n{}", slack_escape(&t.category)), 2000)},
                    {"type": "mrkdwn", "text": format!("*Threat score*\n{}/100", t.threat_score)},
                    {"type": "mrkdwn", "text": truncate(&format!("*Confidence*\n{}", slack_escape(&t.confidence)), 2000)}
                ]
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&body), 2900)}
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": truncate(&slack_escape(&format!(
                    "Advisory triage by {} model {}: the verdict of the incident stands.",
                    r.provider, r.model
                )), 2900)}]
            }
        ],
        "sentineldns": {"incident_id": r.incident_id, "triage_status": r.triage_status, "triage": t}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("abcdef", 10), "abcdef");
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdefg", 6), "abcde…");
        assert_eq!(truncate("ééééééé", 3), "éé…");
    }
}
