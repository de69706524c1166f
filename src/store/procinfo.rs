//! Who runs this process, read from Linux `/proc` and the account files
//! without `unsafe` or libc: the identity recorded in each run row (pid,
//! process start time, boot id, hostname), the liveness check that lets the
//! next start mark a run whose process died as `crashed`, and the effective
//! user and group named in permission errors. On a system without `/proc`
//! every function answers `None` (nothing is marked crashed; errors name no
//! user).

use std::path::Path;

/// Identity of a running process, as stored in `runs` (migration v4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks after boot (`/proc/PID/stat` field 22): a
    /// reused pid has another start time.
    pub start_ticks: u64,
    /// `/proc/sys/kernel/random/boot_id`: pids and start times restart at boot.
    pub boot_id: String,
    /// Host name (`/proc/sys/kernel/hostname`): runs of other hosts sharing
    /// the database are never judged.
    pub hostname: String,
}

fn read_trimmed(p: impl AsRef<Path>) -> Option<String> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Start time (field 22) of a `/proc/PID/stat` line. The command name (field
/// 2) is in parentheses and may itself hold spaces and parentheses, so the
/// fields are counted after the last `)`.
pub fn parse_stat_start(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")" come fields 3 (state), 4, ...: field 22 is the 20th.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Start time of process `pid`, or `None` if there is no such process.
pub fn start_ticks(pid: u32) -> Option<u64> {
    parse_stat_start(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Boot id of the running kernel.
pub fn boot_id() -> Option<String> {
    read_trimmed("/proc/sys/kernel/random/boot_id")
}

/// This process.
pub fn current() -> Option<ProcessIdentity> {
    let pid = std::process::id();
    Some(ProcessIdentity {
        pid,
        start_ticks: start_ticks(pid)?,
        boot_id: boot_id()?,
        hostname: read_trimmed("/proc/sys/kernel/hostname").unwrap_or_default(),
    })
}

/// Whether the process recorded as (`pid`, `start`, `boot`) still runs:
/// same boot, `/proc/PID` exists and started at the same tick.
pub fn is_alive(pid: u32, start: u64, boot: &str) -> bool {
    boot_id().is_some_and(|b| b == boot) && start_ticks(pid) == Some(start)
}

/// Effective uid and gid of this process (`/proc/self/status`).
pub fn effective_ids() -> Option<(u32, u32)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u32> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        // "Uid:\treal\teffective\tsaved\tfs"
        line[name.len()..]
            .split_ascii_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("Uid:")?, field("Gid:")?))
}

/// Name of `id` in an `/etc/passwd` or `/etc/group` style file (name is
/// field 1, the numeric id field 3).
pub fn name_in(db: &str, id: u32) -> Option<String> {
    db.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let num: u32 = f.nth(1)?.parse().ok()?;
        (num == id && !name.is_empty()).then(|| name.to_string())
    })
}

/// `name(uid)` for a user or group id, or just the id when the name is unknown.
pub fn describe_id(db_path: &str, id: u32) -> String {
    match std::fs::read_to_string(db_path)
        .ok()
        .and_then(|db| name_in(&db, id))
    {
        Some(n) => format!("{n} ({id})"),
        None => id.to_string(),
    }
}

/// "user nobody (65534), group nogroup (65534)" for this process, if known.
pub fn effective_user() -> Option<String> {
    let (uid, gid) = effective_ids()?;
    Some(format!(
        "user {}, group {}",
        describe_id("/etc/passwd", uid),
        describe_id("/etc/group", gid)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_start_time_survives_odd_command_names() {
        let line = "4242 (we ird) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50 18446744073709551615";
        assert_eq!(parse_stat_start(line), Some(987_654));
        assert_eq!(parse_stat_start("1 (init"), None);
        assert_eq!(parse_stat_start("1 (init) S 0"), None);
    }

    #[test]
    fn own_process_is_alive_and_a_dead_one_is_not() {
        let me = current().expect("/proc is mounted (Linux)");
        assert_eq!(me.pid, std::process::id());
        assert!(is_alive(me.pid, me.start_ticks, &me.boot_id));
        // Same pid, other start time: a reused pid.
        assert!(!is_alive(me.pid, me.start_ticks + 1, &me.boot_id));
        // Other boot.
        assert!(!is_alive(me.pid, me.start_ticks, "not-this-boot"));
        // A child that has exited and been reaped.
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        let start = start_ticks(pid);
        child.wait().unwrap();
        if let Some(start) = start {
            assert!(!is_alive(pid, start, &me.boot_id));
        }
        assert!(!is_alive(u32::MAX, 1, &me.boot_id), "no such pid");
    }

    #[test]
    fn ids_resolve_to_names() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nbad line\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
        assert_eq!(name_in(passwd, 65534).as_deref(), Some("nobody"));
        assert_eq!(name_in(passwd, 0).as_deref(), Some("root"));
        assert_eq!(name_in(passwd, 7), None);
        let (uid, _) = effective_ids().expect("/proc/self/status");
        assert!(effective_user().unwrap().contains(&uid.to_string()));
        assert_eq!(describe_id("/nonexistent/passwd", 4321), "4321");
    }
}
