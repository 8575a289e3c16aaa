//! Whether the taskrun process that recorded a run is still alive, so that
//! a run whose process was killed (SIGKILL, power loss) can be shown as
//! interrupted.
//!
//! A process is identified by host name, process id and, on Linux, its
//! start time, so that a reused process id does not keep a dead run alive.

/// Identifies one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcessId {
    pub(crate) host: String,
    pub(crate) pid: i64,
    /// The start time of the process in clock ticks since boot (Linux), or
    /// 0 where that is not known.
    pub(crate) started: i64,
}

impl ProcessId {
    /// This process.
    pub(crate) fn current() -> ProcessId {
        let pid = i64::from(std::process::id());
        ProcessId {
            host: host_name(),
            pid,
            started: start_time(pid).unwrap_or(0),
        }
    }

    /// Whether the process may still be running. A process on another host
    /// cannot be checked and counts as alive.
    pub(crate) fn alive(&self) -> bool {
        if self.host != host_name() {
            return true;
        }
        match start_time(self.pid) {
            Some(started) => self.started == 0 || started == self.started,
            None if cfg!(target_os = "linux") => false,
            None => {
                let Ok(pid) = i32::try_from(self.pid) else {
                    return false;
                };
                // SAFETY: signal 0 only checks that the process exists.
                unsafe { libc::kill(pid, 0) == 0 }
            }
        }
    }
}

fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: gethostname writes at most `buffer.len()` bytes.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return String::new();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Field 22 of `/proc/PID/stat`: when the process started.
fn start_time(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it are
    // counted from its closing parenthesis.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3, so field 22 is index 19.
    let state = fields.first()?;
    if *state == "Z" || *state == "X" {
        return None;
    }
    fields.get(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_not() {
        let me = ProcessId::current();
        assert!(me.alive());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i64::from(child.id());
        let started = start_time(pid).unwrap_or(0);
        child.wait().unwrap();
        let gone = ProcessId {
            host: me.host.clone(),
            pid,
            started,
        };
        assert!(!gone.alive());
        let reused = ProcessId {
            started: me.started + 1,
            ..me.clone()
        };
        assert!(
            !reused.alive(),
            "a reused process id is not the same process"
        );
        let elsewhere = ProcessId {
            host: "some-other-host".to_owned(),
            ..gone
        };
        assert!(
            elsewhere.alive(),
            "another host's process cannot be checked"
        );
    }
}
