//! Dropping root after the capture handles are open.
//!
//! Order matters and follows what tcpdump (`-Z`) and Suricata do: supplementary
//! groups first (`initgroups`), then the primary group, then the user — after
//! `setuid` the process could no longer change its groups. The result is
//! checked (real and effective ids, and that root cannot be regained), so a
//! failed drop is an error, never a silent root sensor.
//!
//! Not root (e.g. under systemd with `AmbientCapabilities=CAP_NET_RAW` and
//! `User=sentineldns`): nothing to drop, [`Dropped::NotRoot`].

use nix::unistd::{self, Gid, Group, Uid, User};
use std::ffi::CString;

/// Outcome of [`drop_privileges`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// Now running as this user and group.
    To {
        /// User name.
        user: String,
        /// Uid.
        uid: u32,
        /// Gid.
        gid: u32,
    },
    /// The process was not root: nothing to drop.
    NotRoot {
        /// The uid it runs as.
        uid: u32,
    },
    /// Asked to stay root (`user = "root"`).
    StayedRoot,
}

/// Privilege-drop errors.
#[derive(Debug, thiserror::Error)]
pub enum PrivDropError {
    /// The user does not exist.
    #[error("user {0:?} does not exist (set `user` in [capture] or --user)")]
    NoUser(String),
    /// The group does not exist.
    #[error("group {0:?} does not exist (set `group` in [capture] or --group)")]
    NoGroup(String),
    /// A system call failed.
    #[error("dropping privileges to {user}: {call} failed: {source}")]
    Call {
        /// Target user.
        user: String,
        /// Which call.
        call: &'static str,
        /// errno.
        source: nix::Error,
    },
    /// A directory could not be handed to the user.
    #[error("giving {dir} to the capture user: {source}")]
    Chown {
        /// Directory.
        dir: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// After the calls, the ids are not what they should be.
    #[error("dropping privileges to {0}: still able to regain root, refusing to run")]
    Regainable(String),
}

/// Uid and gid of `user` / `group` (default: the user's primary group).
fn resolve(user: &str, group: Option<&str>) -> Result<(Uid, Gid), PrivDropError> {
    let call = |call: &'static str| {
        let user = user.to_string();
        move |source| PrivDropError::Call { user, call, source }
    };
    let u = User::from_name(user)
        .map_err(call("getpwnam"))?
        .ok_or_else(|| PrivDropError::NoUser(user.to_string()))?;
    let gid = match group {
        Some(g) => {
            Group::from_name(g)
                .map_err(call("getgrnam"))?
                .ok_or_else(|| PrivDropError::NoGroup(g.to_string()))?
                .gid
        }
        None => u.gid,
    };
    Ok((u.uid, gid))
}

/// Switch to `user` (and `group`, default: the user's primary group) if running
/// as root.
pub fn drop_privileges(user: &str, group: Option<&str>) -> Result<Dropped, PrivDropError> {
    if !unistd::geteuid().is_root() {
        return Ok(Dropped::NotRoot {
            uid: unistd::getuid().as_raw(),
        });
    }
    if user == "root" {
        return Ok(Dropped::StayedRoot);
    }
    let (uid, gid) = resolve(user, group)?;
    let call = |call: &'static str| {
        let user = user.to_string();
        move |source| PrivDropError::Call { user, call, source }
    };
    let cname = CString::new(user).map_err(|_| PrivDropError::NoUser(user.to_string()))?;
    unistd::initgroups(&cname, gid).map_err(call("initgroups"))?;
    unistd::setgid(gid).map_err(call("setgid"))?;
    unistd::setuid(uid).map_err(call("setuid"))?;
    if unistd::getuid() != uid
        || unistd::geteuid() != uid
        || unistd::getgid() != gid
        || (uid != Uid::from_raw(0) && unistd::setuid(Uid::from_raw(0)).is_ok())
    {
        return Err(PrivDropError::Regainable(user.to_string()));
    }
    Ok(Dropped::To {
        user: user.to_string(),
        uid: uid.as_raw(),
        gid: gid.as_raw(),
    })
}

/// Give `dir` to `user` (and `group`) when running as root, so files the
/// sensor creates there after [`drop_privileges`] (the pcap ring) can be
/// written. A no-op when not root or when `user` is root.
pub fn hand_over_dir(
    dir: &std::path::Path,
    user: &str,
    group: Option<&str>,
) -> Result<(), PrivDropError> {
    if !unistd::geteuid().is_root() || user == "root" {
        return Ok(());
    }
    let (uid, gid) = resolve(user, group)?;
    std::os::unix::fs::chown(dir, Some(uid.as_raw()), Some(gid.as_raw())).map_err(|source| {
        PrivDropError::Chown {
            dir: dir.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_user_is_an_error_when_root_and_a_no_op_otherwise() {
        let r = drop_privileges("no-such-user-sentineldns", None);
        if unistd::geteuid().is_root() {
            assert!(matches!(r, Err(PrivDropError::NoUser(_))), "{r:?}");
        } else {
            assert!(matches!(r, Ok(Dropped::NotRoot { .. })), "{r:?}");
        }
    }

    #[test]
    fn staying_root_is_explicit() {
        if unistd::geteuid().is_root() {
            assert_eq!(drop_privileges("root", None).unwrap(), Dropped::StayedRoot);
        }
    }
}
