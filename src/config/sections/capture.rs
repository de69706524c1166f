//! `[capture]`: interfaces, BPF filter, buffers, privilege drop (user and
//! group looked up in the account files) and the pcap ring.

use super::super::ConfigError;
use serde::{Deserialize, Deserializer, Serialize};
use std::path::{Path, PathBuf};

fn interfaces<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    for name in &v {
        let ok = !name.is_empty()
            && name.len() <= 15
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\');
        if !ok {
            return Err(serde::de::Error::custom(format!(
                "{name:?} is not an interface name (1 to 15 printable characters, no '/')"
            )));
        }
    }
    Ok(v)
}

fn account_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() || s.contains([':', '\n', '/']) || s.len() > 64 {
        return Err(serde::de::Error::custom(format!(
            "{s:?} is not a user or group name"
        )));
    }
    Ok(s)
}

fn opt_account_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    account_name(d).map(Some)
}

/// `[capture]`: live capture (read by the `capture` command only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Interfaces to capture on, e.g. `["eth0"]` (default: none; capture
    /// refuses to start without one).
    #[serde(deserialize_with = "interfaces")]
    pub interfaces: Vec<String>,
    /// BPF filter (default: absent, the built-in DNS filter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bpf: Option<String>,
    /// Bytes captured per packet (default 65535; 64 to 262144).
    pub snaplen: u32,
    /// Kernel capture buffer in MiB (default 16; 1 to 4096).
    pub buffer_mb: u32,
    /// User to drop privileges to after opening the interfaces (default `"nobody"`).
    #[serde(deserialize_with = "account_name")]
    pub user: String,
    /// Group to drop to (default: absent, the user's primary group).
    #[serde(
        deserialize_with = "opt_account_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub group: Option<String>,
    /// Packets queued between capture and decoding (default 65536; 1 to 16777216).
    pub queue: usize,
    /// Put the interfaces into promiscuous mode (default `true`).
    pub promisc: bool,
    /// Also write captured packets to rotating pcap files (default: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_pcap: Option<WritePcapConfig>,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces: Vec::new(),
            bpf: None,
            snaplen: 65535,
            buffer_mb: 16,
            user: "nobody".into(),
            group: None,
            queue: 65536,
            promisc: true,
            write_pcap: None,
        }
    }
}

/// `[capture.write_pcap]`: a ring of pcap files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritePcapConfig {
    /// Directory of the files (required).
    pub dir: PathBuf,
    /// Size of one file in MiB before the next is started (default 100; 1 to 65536).
    #[serde(default = "WritePcapConfig::default_max_mb")]
    pub max_mb: u64,
    /// Files kept; the oldest is deleted (default 10; 1 to 100000).
    #[serde(default = "WritePcapConfig::default_keep")]
    pub keep: usize,
}

impl WritePcapConfig {
    /// A ring in `dir` with the default size and count.
    pub fn new(dir: PathBuf) -> Self {
        WritePcapConfig {
            dir,
            max_mb: Self::default_max_mb(),
            keep: Self::default_keep(),
        }
    }

    fn default_max_mb() -> u64 {
        100
    }
    fn default_keep() -> usize {
        10
    }
}

/// User and group ids to drop to, from [`CaptureConfig::ids`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl CaptureConfig {
    /// Resolve `user` and `group` (or the user's primary group) through
    /// `/etc/passwd` and `/etc/group`.
    pub fn ids(&self) -> Result<Ids, ConfigError> {
        self.ids_from(Path::new("/etc/passwd"), Path::new("/etc/group"))
    }

    /// [`ids`](Self::ids) with other account files (tests).
    pub fn ids_from(&self, passwd: &Path, group: &Path) -> Result<Ids, ConfigError> {
        let (uid, primary) = lookup_account(passwd, &self.user, 2, 3)?.ok_or_else(|| {
            ConfigError::Account(format!(
                "capture user {:?} does not exist in {}",
                self.user,
                passwd.display()
            ))
        })?;
        let gid = match &self.group {
            None => primary,
            Some(g) => {
                lookup_account(group, g, 2, 2)?
                    .ok_or_else(|| {
                        ConfigError::Account(format!(
                            "capture group {g:?} does not exist in {}",
                            group.display()
                        ))
                    })?
                    .0
            }
        };
        Ok(Ids { uid, gid })
    }
}

/// Find `name` in a colon-separated account file (`/etc/passwd`,
/// `/etc/group`) and return the numeric fields `a` and `b` of its line.
fn lookup_account(
    file: &Path,
    name: &str,
    a: usize,
    b: usize,
) -> Result<Option<(u32, u32)>, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.first() == Some(&name) {
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u32>().ok());
            if let (Some(x), Some(y)) = (num(a), num(b)) {
                return Ok(Some((x, y)));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_accounts_from_passwd_and_group() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        let group = dir.path().join("group");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nsentineldns:x:998:997::/var/lib/sentineldns:/usr/sbin/nologin\n",
        )
        .unwrap();
        std::fs::write(&group, "root:x:0:\nadm:x:4:syslog\n").unwrap();
        let mut c = CaptureConfig {
            user: "sentineldns".into(),
            ..Default::default()
        };
        assert_eq!(
            c.ids_from(&passwd, &group).unwrap(),
            Ids { uid: 998, gid: 997 }
        );
        c.group = Some("adm".into());
        assert_eq!(
            c.ids_from(&passwd, &group).unwrap(),
            Ids { uid: 998, gid: 4 }
        );
        c.group = Some("wheel".into());
        assert!(c
            .ids_from(&passwd, &group)
            .unwrap_err()
            .to_string()
            .contains("group \"wheel\""));
        c.user = "nobody".into();
        assert!(c
            .ids_from(&passwd, &group)
            .unwrap_err()
            .to_string()
            .contains("user \"nobody\""));
    }
}
