//! The standard Prometheus process metrics (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//! `process_open_fds`, `process_start_time_seconds`), read from `/proc/self`
//! on Linux at scrape time, as the official client libraries do. Elsewhere,
//! or when `/proc` is not mounted, they are absent (not zero).
//!
//! CPU times in `/proc/self/stat` are in clock ticks of `USER_HZ`, which the
//! kernel fixes at 100 for user space on every architecture Linux supports
//! (the Go client's procfs library makes the same assumption); memory comes
//! from `/proc/self/status` in kB, so no page size is needed.

/// One reading of the process metrics; a field is `None` when it could not
/// be read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory size, bytes.
    pub virtual_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// Process start, unix seconds.
    pub start_time_seconds: Option<f64>,
}

/// Clock ticks per second of `/proc` CPU and start times (`USER_HZ`).
const USER_HZ: f64 = 100.0;

impl ProcessStats {
    /// Read the current process's figures (all `None` off Linux).
    pub fn read() -> Self {
        if !cfg!(target_os = "linux") {
            return ProcessStats::default();
        }
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let status = std::fs::read_to_string("/proc/self/status").ok();
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| boot_time(&s));
        let (cpu_seconds, start_ticks) = stat.as_deref().map(parse_stat).unwrap_or((None, None));
        let kb = |key: &str| status.as_deref().and_then(|s| status_kb(s, key));
        ProcessStats {
            cpu_seconds,
            resident_bytes: kb("VmRSS:").map(|k| k.saturating_mul(1024)),
            virtual_bytes: kb("VmSize:").map(|k| k.saturating_mul(1024)),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
            start_time_seconds: match (boot, start_ticks) {
                (Some(b), Some(t)) => Some(b as f64 + t as f64 / USER_HZ),
                _ => None,
            },
        }
    }
}

/// CPU seconds (utime + stime) and start time in ticks since boot from the
/// text of `/proc/self/stat`. The command name (field 2) is in parentheses
/// and may hold spaces, so fields are counted after its closing `)`.
fn parse_stat(s: &str) -> (Option<f64>, Option<u64>) {
    let Some((_, rest)) = s.rsplit_once(')') else {
        return (None, None);
    };
    // rest starts at field 3 (state): utime is field 14, stime 15,
    // starttime 22, i.e. indexes 11, 12 and 19 here.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let cpu = match (num(11), num(12)) {
        (Some(u), Some(s)) => Some((u + s) as f64 / USER_HZ),
        _ => None,
    };
    (cpu, num(19))
}

/// The value in kB of `key` (e.g. `VmRSS:`) in `/proc/self/status`.
fn status_kb(s: &str, key: &str) -> Option<u64> {
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Boot time, unix seconds, from `/proc/stat` (`btime`).
fn boot_time(s: &str) -> Option<u64> {
    s.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let s = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 12345 1000 10 \
                 18446744073709551615";
        let (cpu, start) = parse_stat(s);
        assert_eq!(cpu, Some(3.0));
        assert_eq!(start, Some(12345));
        assert_eq!(parse_stat("garbage"), (None, None));
        assert_eq!(
            status_kb("Name:\tx\nVmSize:\t  2048 kB\nVmRSS:\t 512 kB\n", "VmRSS:"),
            Some(512)
        );
        assert_eq!(
            boot_time("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_is_read() {
        let p = ProcessStats::read();
        assert!(p.resident_bytes.unwrap() > 0);
        assert!(p.virtual_bytes.unwrap() >= p.resident_bytes.unwrap());
        assert!(p.open_fds.unwrap() >= 3);
        assert!(p.cpu_seconds.unwrap() >= 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = p.start_time_seconds.unwrap();
        assert!(
            start <= now + 1.0 && start > now - 86_400.0 * 365.0,
            "{start}"
        );
    }
}
