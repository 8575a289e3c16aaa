//! One Slurm allocation for a whole run (`--slurm-mode steps`): asked for
//! with `salloc --no-shell` before the run starts, sized to what the
//! partition can hold, kept ahead of its time limit while the run goes on,
//! and released (`scancel`) when the run ends, however it ends.
//!
//! Its time limit is what bounds an allocation left behind by a taskrun
//! that was killed outright (SIGKILL): it is a window (`--slurm-time`, or
//! derived from the tasks' timeouts) that a keeper thread moves forward
//! with `scontrol update` while the run is alive. The allocation is named
//! after the process that holds it, so that the next run on the same
//! database can release one whose process is gone.

use std::fmt::Write as _;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender};

use super::{SlurmOptions, minutes, run_quietly};

/// What a run asks of its allocation.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// The job's name: `squeue` shows it, and a later run finds a stale
    /// allocation by it.
    pub(crate) name: String,
    /// Tasks at once (`--jobs`).
    pub(crate) slots: usize,
    /// The CPUs of the largest task (1 when none asks for more).
    pub(crate) cpus: u32,
    /// The memory of the largest task, in bytes, if any asks.
    pub(crate) mem: Option<u64>,
    /// How long the allocation may outlive a taskrun that stops extending
    /// it.
    pub(crate) window: Window,
}

/// How long an allocation may outlive a taskrun that stops extending it:
/// its first time limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Window {
    /// `--slurm-time`, or an hour for a run that may last for ever.
    Given(Duration),
    /// The longest the run can take by its tasks' timeouts: `work` spread
    /// over the slots the allocation holds, then `chain` (see
    /// `Runner::longest_run`), and a minute to spare.
    Bound { work: Duration, chain: Duration },
}

/// What the allocation has to say while it is asked for and held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    /// Slurm queued the request and the run waits for it (a progress line).
    Waiting(String),
    /// Slurm granted it (a line to keep).
    Granted(String),
    /// Something that goes wrong while the run goes on.
    Warning(String),
}

/// Where notices go: the command line prints them, the library drops them.
pub(crate) type Notify = Arc<dyn Fn(Notice) + Send + Sync>;

/// Why there is no allocation.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Slurm refused it, or could not be asked: what it said.
    Refused(String),
    /// It was not granted within `--slurm-wait`.
    NotInTime {
        id: Option<String>,
        waited: Duration,
    },
    /// The run was interrupted (by this signal) while it waited.
    Canceled(crate::event::Signal),
}

/// A granted allocation; released when dropped.
pub(crate) struct Allocation {
    /// Its job id.
    pub(crate) id: String,
    /// How many tasks it holds at once: `--jobs`, or fewer where the
    /// partition has less room.
    pub(crate) slots: usize,
    /// Memory per CPU it was asked for, in MiB, when a task asks for
    /// memory: a step that does not ask gets as much per CPU.
    pub(crate) mem_per_cpu: Option<u64>,
    notify: Notify,
    released: Mutex<bool>,
    keeper: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
}

impl std::fmt::Debug for Allocation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Allocation")
            .field("id", &self.id)
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

/// One node of the partition that can take jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    cpus: u32,
    mem_mib: u64,
}

/// What the partition can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Partition {
    name: String,
    nodes: Vec<Node>,
    /// Its `MaxTime`, when it has one.
    max_time: Option<Duration>,
}

/// The request cut down to what the partition can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fit {
    slots: usize,
    cpus: u32,
    mem_per_cpu: Option<u64>,
    window: Duration,
    /// Why there are fewer slots than asked for.
    smaller: Option<String>,
}

impl Allocation {
    /// Asks Slurm for the allocation and waits until it is granted, for at
    /// most `options.wait`, or until `cancel` says the run is over.
    pub(crate) fn request(
        options: &SlurmOptions,
        request: &Request,
        notify: &Notify,
        cancel: &Receiver<crate::event::Signal>,
    ) -> Result<Allocation, Refusal> {
        let partition = partition(options.partition.as_deref()).map_err(Refusal::Refused)?;
        let mut fit = fit(request, &partition);
        // A memory option of the user's replaces taskrun's (Slurm takes
        // only one of them).
        if options.args.iter().any(|arg| arg.starts_with("--mem")) {
            fit.mem_per_cpu = None;
        }
        let mut command = Command::new("salloc");
        command.arg("--no-shell");
        if let Some(mem) = fit.mem_per_cpu {
            command.arg(format!("--mem-per-cpu={mem}M"));
        }
        if let Some(partition) = &options.partition {
            command.arg(format!("--partition={partition}"));
        }
        command.args(&options.args);
        // Last, so that they win over the same options in --slurm-arg: the
        // run counts on its name (to cancel it), its size and its limit.
        command.args([
            format!("--job-name={}", request.name),
            format!("--ntasks={}", fit.slots),
            format!("--cpus-per-task={}", fit.cpus),
            format!("--time={}", minutes(fit.window)),
        ]);
        let granted = wait_for_grant(command, &request.name, options.wait, notify, cancel)?;
        let mut said = format!(
            "Slurm allocation {granted}: {} on partition `{}`",
            crate::error::plural(fit.slots, "task slot"),
            partition.name
        );
        if let Some(smaller) = &fit.smaller {
            let _ = write!(said, " ({smaller})");
        }
        notify(Notice::Granted(said));
        let (stop, stopped) = channel::bounded(1);
        let keeper = {
            let id = granted.clone();
            let notify = Arc::clone(notify);
            let window = fit.window;
            std::thread::Builder::new()
                .name("slurm-keeper".to_owned())
                .spawn(move || keep(&id, window, &notify, &stopped))
                .ok()
                .map(|handle| (stop, handle))
        };
        Ok(Allocation {
            id: granted,
            slots: fit.slots,
            mem_per_cpu: fit.mem_per_cpu,
            notify: Arc::clone(notify),
            released: Mutex::new(false),
            keeper: Mutex::new(keeper),
        })
    }

    /// An allocation that was never asked for, to build steps for.
    #[cfg(test)]
    pub(crate) fn granted_for_tests(id: &str, mem_per_cpu: Option<u64>) -> Allocation {
        Allocation {
            id: id.to_owned(),
            slots: 1,
            mem_per_cpu,
            notify: Arc::new(|_| {}),
            // Nothing to give back.
            released: Mutex::new(true),
            keeper: Mutex::new(None),
        }
    }

    /// Gives the allocation back, ending every step still in it. Only the
    /// first call does anything.
    pub(crate) fn release(&self) {
        if let Some((stop, keeper)) = self.keeper.lock().ok().and_then(|mut keeper| keeper.take()) {
            let _ = stop.send(());
            let _ = keeper.join();
        }
        let Ok(mut released) = self.released.lock() else {
            return;
        };
        if !*released {
            *released = true;
            if let Err(why) = cancel_job(&self.id) {
                (self.notify)(Notice::Warning(format!(
                    "could not release Slurm allocation {} ({why}): `scancel {}` does",
                    self.id, self.id
                )));
            }
        }
    }
}

impl Drop for Allocation {
    fn drop(&mut self) {
        self.release();
    }
}

/// Runs `salloc` (`command`, asking for an allocation named `name`) and
/// follows what it says until the allocation is granted: its id. Gives up
/// (and cancels the request) when `wait` is over or `cancel` says so.
fn wait_for_grant(
    mut command: Command,
    name: &str,
    wait: Option<Duration>,
    notify: &Notify,
    cancel: &Receiver<crate::event::Signal>,
) -> Result<String, Refusal> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (mut child, lines) = follow(command, name)?;
    let started = Instant::now();
    // No deadline is one too far off to reach.
    let deadline = wait
        .filter(|wait| !wait.is_zero())
        .and_then(|wait| started.checked_add(wait));
    let never = channel::never();
    let mut cancel = cancel;
    let mut pending: Option<String> = None;
    let mut granted: Option<String> = None;
    let mut reason = String::new();
    let mut errors = Vec::new();
    loop {
        let left = deadline.map_or(Duration::MAX, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        // While the request is queued, Slurm's reason is looked up now and
        // then (a limit of the account shows there, say).
        let tick = if pending.is_some() {
            left.min(REASON_EVERY)
        } else {
            left
        };
        let line = channel::select! {
            recv(lines) -> line => line.map_err(|_| RecvTimeoutError::Disconnected),
            recv(cancel) -> signal => {
                if let Ok(signal) = signal {
                    give_up(&mut child, name);
                    return Err(Refusal::Canceled(signal));
                }
                // Nobody can cancel any more.
                cancel = &never;
                continue;
            }
            default(tick) => Err(RecvTimeoutError::Timeout),
        };
        match line {
            Ok(line) => {
                let text = line.strip_prefix("salloc: ").unwrap_or(&line).trim();
                if let Some(id) = text.strip_prefix("Pending job allocation ") {
                    let id = id.trim().to_owned();
                    notify(Notice::Waiting(format!(
                        "waiting for Slurm allocation {id}…"
                    )));
                    pending = Some(id);
                } else if let Some(id) = text.strip_prefix("Granted job allocation ") {
                    // With --no-shell, salloc ends once its nodes are
                    // ready (they may have to boot): until then, the wait
                    // can still be given up.
                    granted = Some(id.trim().to_owned());
                } else if let Some(error) = text.strip_prefix("error: ") {
                    errors.push(error.to_owned());
                }
            }
            Err(RecvTimeoutError::Timeout)
                if deadline.is_none_or(|deadline| Instant::now() < deadline) =>
            {
                if let Some(id) = &pending {
                    let now = pending_reason(id);
                    if !now.is_empty() && now != reason {
                        notify(Notice::Waiting(format!(
                            "waiting for Slurm allocation {id} ({now})…"
                        )));
                        reason = now;
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                give_up(&mut child, name);
                return Err(Refusal::NotInTime {
                    id: pending,
                    waited: started.elapsed(),
                });
            }
            Err(RecvTimeoutError::Disconnected) => {
                let ended = child.wait().is_ok_and(|status| status.success());
                // salloc is in taskrun's process group: a Ctrl-C at the
                // terminal may have ended it before taskrun heard of it.
                if !ended && let Ok(signal) = cancel.recv_timeout(Duration::from_millis(200)) {
                    give_up(&mut child, name);
                    return Err(Refusal::Canceled(signal));
                }
                if let Some(id) = granted.take().filter(|_| ended) {
                    return Ok(id);
                }
                // salloc ended without saying it was granted: it may have
                // been told to be quiet (`--slurm-arg=--quiet`).
                if ended
                    && let Some((id, _)) = held(name).into_iter().find(|(_, held)| held == name)
                {
                    return Ok(id);
                }
                give_up(&mut child, name);
                return Err(Refusal::Refused(if errors.is_empty() {
                    "salloc ended without an allocation".to_owned()
                } else {
                    errors.join("; ")
                }));
            }
        }
    }
}

/// How often the reason of a queued request is looked up.
const REASON_EVERY: Duration = Duration::from_secs(2);

/// Starts `salloc` (`command`, asking for an allocation named `name`),
/// and the lines it writes to its stderr, as they come.
fn follow(
    mut command: Command,
    name: &str,
) -> Result<(std::process::Child, Receiver<String>), Refusal> {
    let mut child = command
        .spawn()
        .map_err(|error| Refusal::Refused(format!("cannot run `salloc`: {error}")))?;
    let (sender, lines) = channel::unbounded();
    let reader = child.stderr.take().map(|stderr| {
        std::thread::Builder::new()
            .name("salloc".to_owned())
            .spawn(move || {
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            })
    });
    if !matches!(reader, Some(Ok(_))) {
        give_up(&mut child, name);
        return Err(Refusal::Refused(
            "cannot start a thread to follow salloc".to_owned(),
        ));
    }
    Ok((child, lines))
}

/// Why Slurm keeps job `id` queued (`Resources`, `Priority`,
/// `QOSMaxCpuPerUserLimit`…), or nothing.
fn pending_reason(id: &str) -> String {
    Command::new("squeue")
        .args(["--noheader", "--format=%r", "--jobs", id])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .ok()
        .filter(|reason| reason != "None")
        .unwrap_or_default()
}

/// Stops `salloc` (it cancels a request it is stopped waiting for) and
/// cancels whatever was granted under `name` in the meantime: an
/// allocation granted at once has no id to cancel it by yet.
fn give_up(child: &mut std::process::Child, name: &str) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) only sends a signal to our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let stopped = Instant::now();
    while matches!(child.try_wait(), Ok(None)) {
        if stopped.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: getuid(2) cannot fail.
    let me = unsafe { libc::getuid() };
    let _ = run_quietly(
        "scancel",
        &[format!("--user={me}"), format!("--name={name}")],
    );
}

/// Keeps the allocation's time limit ahead of the run until told to stop:
/// once less than half of `window` is left before the limit, moves it to
/// `window` from now. Says once if Slurm refuses (many clusters let only
/// their operators extend a job's time), and stops trying.
fn keep(id: &str, window: Duration, notify: &Notify, stop: &Receiver<()>) {
    let granted = Instant::now();
    let interval = (window / 10).clamp(Duration::from_secs(10), Duration::from_secs(300));
    let mut limit = minutes(window);
    loop {
        match stop.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let elapsed = granted.elapsed();
        let left = Duration::from_secs(limit.saturating_mul(60)).saturating_sub(elapsed);
        if left > window / 2 {
            continue;
        }
        // A minute more: Slurm counts from its own start time, a little
        // before `granted`.
        let wanted = minutes(elapsed.saturating_add(window)) + 1;
        match run_quietly(
            "scontrol",
            &[
                "update".to_owned(),
                format!("JobId={id}"),
                format!("TimeLimit={wanted}"),
            ],
        ) {
            Ok(()) => limit = wanted,
            Err(why) => {
                notify(Notice::Warning(format!(
                    "Slurm did not extend the time limit of allocation {id} ({why}): \
                     it ends {limit} minutes after it started, and the tasks still running \
                     then are killed; give the time the whole run needs with --slurm-time"
                )));
                return;
            }
        }
    }
}

/// Cancels a job (and so every step in it), or one step (`JOB.STEP`):
/// what `scancel` said if it could not.
pub(crate) fn cancel_job(id: &str) -> Result<(), String> {
    run_quietly("scancel", &[id.to_owned()])
}

/// This user's jobs that are queued or running and whose name starts with
/// `prefix`: their ids and names.
pub(crate) fn held(prefix: &str) -> Vec<(String, String)> {
    // SAFETY: getuid(2) cannot fail.
    let me = unsafe { libc::getuid() };
    let Ok(output) = Command::new("squeue")
        .args([
            &format!("--user={me}"),
            "--noheader",
            "--states=PENDING,RUNNING,SUSPENDED,CONFIGURING",
            "--format=%i|%j",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('|'))
        .filter(|(_, name)| name.starts_with(prefix))
        .map(|(id, name)| (id.trim().to_owned(), name.to_owned()))
        .collect()
}

/// The nodes of `name` (the default partition when `None`) that can take
/// jobs, as `sinfo` lists them.
fn partition(name: Option<&str>) -> Result<Partition, String> {
    let mut args = vec!["--noheader", "--Node", "--format=%P|%c|%m|%t|%l"];
    if let Some(name) = name {
        args.extend(["--partition", name]);
    }
    let output = Command::new("sinfo")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run `sinfo`: {error}"))?;
    parse_partition(&String::from_utf8_lossy(&output.stdout), name)
}

fn parse_partition(listing: &str, wanted: Option<&str>) -> Result<Partition, String> {
    let mut found: Option<Partition> = None;
    for line in listing.lines() {
        let fields: Vec<&str> = line.trim().split('|').collect();
        let [partition, cpus, mem, state, limit] = fields[..] else {
            continue;
        };
        let default = partition.ends_with('*');
        let partition = partition.trim_end_matches('*');
        if !wanted.map_or(default, |wanted| {
            wanted.split(',').any(|one| one == partition)
        }) {
            continue;
        }
        let entry = found.get_or_insert_with(|| Partition {
            name: wanted.unwrap_or(partition).to_owned(),
            nodes: Vec::new(),
            max_time: parse_time(limit),
        });
        // Of several partitions, the shortest limit.
        entry.max_time = match (entry.max_time, parse_time(limit)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Down, drained, draining or failed nodes take no new job.
        let state = state.trim_end_matches(['*', '~', '#', '!', '%', '$', '@', '^', '-']);
        if ["down", "drain", "drng", "fail", "failg", "inval", "maint"].contains(&state) {
            continue;
        }
        if let (Ok(cpus), Ok(mem_mib)) = (cpus.parse(), mem.parse()) {
            entry.nodes.push(Node { cpus, mem_mib });
        }
    }
    match found {
        Some(partition) if partition.nodes.is_empty() => Err(format!(
            "no node of partition `{}` can take jobs now (down or drained)",
            partition.name
        )),
        Some(partition) => Ok(partition),
        None => Err(match wanted {
            Some(name) => format!("Slurm has no partition `{name}`"),
            None => "Slurm has no default partition; name one with --partition".to_owned(),
        }),
    }
}

/// A Slurm time limit (`infinite`, `MM`, `MM:SS`, `HH:MM:SS`,
/// `D-HH[:MM[:SS]]`); `None` for no limit or text that is none of these.
fn parse_time(text: &str) -> Option<Duration> {
    let (days, rest) = match text.split_once('-') {
        Some((days, rest)) => (days.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let parts: Vec<u64> = rest
        .split(':')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let seconds = match (text.contains('-'), parts.as_slice()) {
        (false, &[minutes]) => minutes * 60,
        (false, &[minutes, seconds]) => minutes * 60 + seconds,
        (true, &[hours]) => hours * 3600,
        (true, &[hours, minutes]) => hours * 3600 + minutes * 60,
        (_, &[hours, minutes, seconds]) => hours * 3600 + minutes * 60 + seconds,
        _ => return None,
    };
    Some(Duration::from_secs(days * 86_400 + seconds))
}

/// The request, cut to what `partition` can hold: no more CPUs per task
/// than its largest node has, no more slots than its nodes hold, no longer
/// than its `MaxTime`.
fn fit(request: &Request, partition: &Partition) -> Fit {
    let largest = partition
        .nodes
        .iter()
        .map(|node| node.cpus)
        .max()
        .unwrap_or(1)
        .max(1);
    let cpus = request.cpus.clamp(1, largest);
    let room: usize = partition
        .nodes
        .iter()
        .map(|node| usize::try_from(node.cpus / cpus).unwrap_or(usize::MAX))
        .sum();
    let slots = request.slots.min(room).max(1);
    let smaller = (slots < request.slots).then(|| {
        let total: u64 = partition
            .nodes
            .iter()
            .map(|node| u64::from(node.cpus))
            .sum();
        let mut why = format!(
            "of the {} asked for: the partition has {}",
            request.slots,
            crate::error::plural(usize::try_from(total).unwrap_or(usize::MAX), "CPU")
        );
        if cpus > 1 {
            let _ = write!(why, " and a task asks for {cpus}");
        }
        why
    });
    // Memory per CPU is always asked for, so that on a cluster that
    // counts memory a step that does not ask gets its share, not all of
    // the node's: as much as the largest task needs, else as much as a
    // CPU of the smallest node has.
    let per_cpu = |node: &Node| node.mem_mib / u64::from(node.cpus.max(1));
    let most = partition
        .nodes
        .iter()
        .map(per_cpu)
        .max()
        .unwrap_or(1)
        .max(1);
    let mem_per_cpu = Some(match request.mem {
        Some(mem) => (mem.div_ceil(1 << 20))
            .div_ceil(u64::from(cpus))
            .clamp(1, most),
        None => partition
            .nodes
            .iter()
            .map(per_cpu)
            .min()
            .unwrap_or(1)
            .max(1),
    });
    let window = match request.window {
        Window::Given(window) => window,
        Window::Bound { work, chain } => (work / u32::try_from(slots).unwrap_or(u32::MAX))
            .saturating_add(chain)
            .saturating_add(Duration::from_secs(60)),
    };
    let window = partition.max_time.map_or(window, |max| window.min(max));
    // Slurm counts whole minutes.
    let window = Duration::from_secs(minutes(window).saturating_mul(60));
    Fit {
        slots,
        cpus,
        mem_per_cpu,
        window,
        smaller,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(slots: usize, cpus: u32, mem: Option<u64>) -> Request {
        Request {
            name: "taskrun-hold".to_owned(),
            slots,
            cpus,
            mem,
            window: Window::Given(Duration::from_secs(3600)),
        }
    }

    #[test]
    fn the_default_partition_or_the_named_one() {
        let listing = "debug*|2|24151|idle|infinite\nbig|64|512000|mix|2-00:00:00\n\
                       big|64|512000|drain|2-00:00:00\nbig|32|1000|alloc*|2-00:00:00\n";
        let debug = parse_partition(listing, None).unwrap();
        assert_eq!(debug.name, "debug");
        assert_eq!(
            debug.nodes,
            [Node {
                cpus: 2,
                mem_mib: 24151
            }]
        );
        assert_eq!(debug.max_time, None);
        let big = parse_partition(listing, Some("big")).unwrap();
        assert_eq!(big.nodes.len(), 2, "the drained node takes no job");
        assert_eq!(big.max_time, Some(Duration::from_secs(2 * 86_400)));
        assert_eq!(
            parse_partition(listing, Some("gpu")).unwrap_err(),
            "Slurm has no partition `gpu`"
        );
        let drained = parse_partition("x*|4|100|drain|infinite\n", None).unwrap_err();
        assert!(drained.contains("no node of partition `x`"), "{drained}");
    }

    #[test]
    fn slurm_times() {
        assert_eq!(parse_time("infinite"), None);
        assert_eq!(parse_time("30"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_time("1:30"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("2:00:00"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_time("1-12"), Some(Duration::from_secs(129_600)));
        assert_eq!(parse_time("1-00:30"), Some(Duration::from_secs(88_200)));
    }

    #[test]
    fn a_request_is_cut_to_what_the_partition_holds() {
        let partition = Partition {
            name: "debug".to_owned(),
            nodes: vec![
                Node {
                    cpus: 8,
                    mem_mib: 16_000,
                },
                Node {
                    cpus: 4,
                    mem_mib: 8_000,
                },
            ],
            max_time: Some(Duration::from_secs(1800)),
        };
        let fits = fit(&request(8, 1, None), &partition);
        assert_eq!((fits.slots, fits.cpus, fits.smaller), (8, 1, None));
        assert_eq!(
            fits.window,
            Duration::from_secs(1800),
            "no longer than MaxTime"
        );
        let wide = fit(&request(8, 4, Some(4 << 30)), &partition);
        assert_eq!((wide.slots, wide.cpus), (3, 4));
        assert_eq!(wide.mem_per_cpu, Some(1024));
        assert_eq!(
            wide.smaller.as_deref(),
            Some("of the 8 asked for: the partition has 12 CPUs and a task asks for 4")
        );
        let huge = fit(&request(2, 100, Some(1 << 50)), &partition);
        assert_eq!((huge.slots, huge.cpus), (1, 8), "the largest node's CPUs");
        assert_eq!(huge.mem_per_cpu, Some(2000), "the most memory a CPU has");
    }
}
