//! A recorded run as one self-contained HTML page: a summary, a Gantt
//! chart of its lanes with the critical path outlined, a concurrency
//! curve, the attempts sorted by duration, and the failures with the end
//! of their stderr.
//!
//! Everything is inline (CSS and SVG, no script), and the page's
//! Content-Security-Policy lets it load nothing. It is well-formed XML as
//! well as HTML, so tests parse it; every string from the task file or a
//! task's output goes through the one escape the JUnit report uses.
//! Hovering a bar shows its `<title>`.

use std::fmt::Write as _;
use std::time::Duration;

use super::junit::escape;
use super::timeline::{Bar, Timeline};
use super::trace::cut;
use crate::event::{Status, format_duration};
use crate::record::{TaskRow, TaskState, last_attempts};
use crate::units::utc_timestamp;

/// A moment of the concurrency curve: when, how many ran, how many waited.
type Point = (u64, usize, usize);

/// The width of the time axis, and of the lane labels left of it.
const PLOT: f64 = 1000.0;
const LABELS: f64 = 64.0;
/// A lane's height, its bar's, and the room for the axis.
const LANE: f64 = 18.0;
const BAR: f64 = 14.0;
const AXIS: f64 = 22.0;
/// The height of the concurrency curve.
const CURVE: f64 = 120.0;
/// How much of a failure's output the page shows, and of a command.
const TAIL: usize = 2048;
const COMMAND: usize = 120;

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;vertical-align:top}
table.tasks td.num,table.tasks th.num{text-align:right}
table.tasks tr:nth-child(even){background:#f4f4f4}
svg{display:block;overflow:visible}
svg text{font-size:11px;fill:#555}
line.tick{stroke:#ddd}
rect.task{stroke:#fff;stroke-width:.5}
rect.critical{stroke:#000;stroke-width:1.5}
polyline.path{fill:none;stroke:#000;stroke-width:1;stroke-dasharray:3 2}
polyline.running{fill:none;stroke:#2f6fb0;stroke-width:1.5}
polyline.waiting{fill:none;stroke:#d98c1f;stroke-width:1.5}
line.jobs{stroke:#999;stroke-dasharray:4 3}
.passed{fill:#3a9a55;color:#2a7a40}.cached{fill:#8fcf9f;color:#2a7a40}.failed{fill:#d0393e;color:#b02a2f}
.timeout{fill:#e08a1e;color:#b86d0c}.canceled{fill:#8a8a8a;color:#666}
.skipped{fill:#c8c8c8;color:#888}.unknown,.running,.pending{fill:#8e6bbf;color:#6c4aa0}
.legend span{display:inline-block;margin-right:1em}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;background:currentColor}
.key-running{color:#2f6fb0}.key-waiting{color:#d98c1f}\nsvg text.key-waiting{fill:#d98c1f}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap;max-height:24em}
td.critical{font-weight:bold}
code{font-size:12px;white-space:pre-wrap}
";

/// The HTML page of a run; `tasks` are its rows with their output.
pub(crate) fn html(timeline: &Timeline<'_>, tasks: &[TaskRow]) -> String {
    let run = timeline.run;
    let mut out = String::with_capacity(4096 + timeline.bars.len() * 320);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>taskrun run #{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        run.id
    );
    summary(&mut out, timeline);
    gantt(&mut out, timeline);
    concurrency(&mut out, timeline);
    table(&mut out, timeline);
    failures(&mut out, tasks);
    out.push_str("</body>\n</html>\n");
    out
}

fn summary(out: &mut String, timeline: &Timeline<'_>) {
    let run = timeline.run;
    let _ = writeln!(
        out,
        "<h1>Run #{}: {}, {}</h1>",
        run.id,
        run.status.as_str(),
        run.counts
    );
    let file = run
        .taskfile_relative
        .as_deref()
        .or(run.taskfile.as_deref())
        .unwrap_or("no task file");
    let _ = writeln!(
        out,
        "<p>{} · started {}{}</p>",
        escape(file),
        utc_timestamp(run.started_at),
        run.host
            .as_deref()
            .map(|host| format!(" on {}", escape(host)))
            .unwrap_or_default()
    );
    let wall = timeline.wall;
    let ratio = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            lossy(part) / lossy(whole)
        }
    };
    let jobs = u64::try_from(timeline.jobs).unwrap_or(1);
    let path = timeline
        .critical_names()
        .iter()
        .map(|name| escape(name))
        .collect::<Vec<_>>()
        .join(" → ");
    out.push_str("<table class=\"summary\">\n");
    let mut row = |label: &str, value: String| {
        let _ = writeln!(out, "<tr><th>{label}</th><td>{value}</td></tr>");
    };
    row("Wall time", time(wall));
    row("Jobs", timeline.jobs.to_string());
    row("Total work", time(timeline.work));
    row(
        "Parallelism",
        format!("{:.2} (work ÷ wall time)", ratio(timeline.work, wall)),
    );
    row(
        "Utilisation",
        format!(
            "{:.0}% of {} places",
            100.0 * ratio(timeline.work, wall.saturating_mul(jobs)),
            timeline.jobs
        ),
    );
    row(
        "Critical path",
        if path.is_empty() {
            "none".into()
        } else {
            format!("{}: {path}", time(timeline.critical_length()))
        },
    );
    row(
        "Lower bound",
        format!(
            "{} (longest chain {}, work spread over {} places {})",
            time(timeline.lower_bound()),
            time(timeline.longest_chain),
            timeline.jobs,
            time(timeline.spread())
        ),
    );
    row(
        "Waited for a place",
        format!("{} on the critical path", time(timeline.queue_wait)),
    );
    out.push_str("</table>\n");
    if timeline.approximate {
        out.push_str(
            "<p>Some attempts were recorded before taskrun kept exact starts and lanes: \
             they start on whole seconds and their lanes are rebuilt.</p>\n",
        );
    }
}

/// The x of time `at`.
fn x(at: u64, wall: u64) -> f64 {
    if wall == 0 {
        LABELS
    } else {
        LABELS + PLOT * lossy(at) / lossy(wall)
    }
}

fn gantt(out: &mut String, timeline: &Timeline<'_>) {
    let wall = timeline.wall;
    let lanes = timeline.lanes.max(1);
    let height = AXIS + LANE * lossy_usize(lanes);
    let _ = writeln!(
        out,
        "<h2>Timeline</h2>\n<svg class=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\" \
         aria-label=\"The run's attempts by lane over time\">",
        w = LABELS + PLOT + 10.0
    );
    axis(out, wall, height);
    for lane in 0..timeline.lanes {
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{:.0}\">slot {lane}</text>",
            AXIS + LANE * lossy_usize(lane) + BAR - 2.0
        );
    }
    for bar in &timeline.bars {
        let left = x(bar.start, wall);
        let width = (x(bar.end(), wall) - left).max(0.5);
        let _ = writeln!(
            out,
            "<rect class=\"task {}{}\" x=\"{left:.1}\" y=\"{:.0}\" width=\"{width:.1}\" height=\"{BAR}\">\
             <title>{}</title></rect>",
            bar.category(),
            if bar.critical { " critical" } else { "" },
            AXIS + LANE * lossy_usize(bar.lane) + 1.0,
            escape(&describe(bar))
        );
    }
    // The critical path, bar to bar.
    if timeline.critical.len() > 1 {
        let mut points = String::new();
        for &at in &timeline.critical {
            let bar = &timeline.bars[at];
            let middle = AXIS + LANE * lossy_usize(bar.lane) + 1.0 + BAR / 2.0;
            let _ = write!(
                points,
                "{:.1},{middle:.0} {:.1},{middle:.0} ",
                x(bar.start, wall),
                x(bar.end(), wall)
            );
        }
        let _ = writeln!(
            out,
            "<polyline class=\"path\" points=\"{}\"/>",
            points.trim_end()
        );
    }
    out.push_str("</svg>\n<p class=\"legend\">");
    for status in [
        "passed", "cached", "failed", "timeout", "canceled", "skipped", "unknown",
    ] {
        let _ = write!(out, "<span class=\"{status}\"><i></i>{status}</span>");
    }
    out.push_str("<span>outlined: on the critical path</span></p>\n");
}

/// Ticks every 1, 2 or 5 × a power of ten seconds, about eight of them.
fn axis(out: &mut String, wall: u64, height: f64) {
    if wall == 0 {
        return;
    }
    let target = lossy(wall) / 8.0;
    let mut step = 1.0;
    while step * 10.0 <= target {
        step *= 10.0;
    }
    while step > target && step > 1.0 {
        step /= 10.0;
    }
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|factor| step * factor)
        .find(|candidate| *candidate >= target)
        .unwrap_or(step * 10.0);
    let mut at = 0.0;
    while at <= lossy(wall) {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "ticks are whole microseconds within the run"
        )]
        let tick = at as u64;
        let left = x(tick, wall);
        let _ = writeln!(
            out,
            "<line class=\"tick\" x1=\"{left:.1}\" y1=\"{AXIS}\" x2=\"{left:.1}\" y2=\"{height}\"/>\
             <text x=\"{left:.1}\" y=\"12\">{}</text>",
            tick_label(tick, step)
        );
        at += step;
    }
}

/// A tick's time, with as many decimals as ticks `step` µs apart need to
/// differ.
fn tick_label(us: u64, step: f64) -> String {
    let seconds = lossy(us) / 1e6;
    let decimals = match step {
        step if step >= 60e6 => return time(us),
        step if step >= 1e6 => 0,
        step if step >= 1e5 => 1,
        step if step >= 1e4 => 2,
        step if step >= 1e3 => 3,
        _ => 4,
    };
    format!("{seconds:.decimals$}s")
}

/// What a bar's tooltip says.
fn describe(bar: &Bar<'_>) -> String {
    let task = bar.task;
    let mut text = task.name.clone();
    if task.attempt > 1 {
        let _ = write!(text, " (attempt {})", task.attempt);
    }
    let _ = write!(
        text,
        ": {} after {} at +{}",
        bar.category(),
        time(bar.duration),
        time(bar.start)
    );
    if !task.state.is_pass() {
        let _ = write!(text, " ({})", task.ending());
    }
    if bar.critical {
        text.push_str(", on the critical path");
    }
    text
}

/// Two curves over time, each on its own scale: the attempts running
/// (up to the jobs line) and the tasks ready but waiting for a place (up
/// to their peak, which is labelled).
fn concurrency(out: &mut String, timeline: &Timeline<'_>) {
    let wall = timeline.wall;
    let curve = peaks(&timeline.concurrency(), wall);
    let most = |pick: fn(&Point) -> usize| curve.iter().map(pick).max().unwrap_or(0);
    let running_top = most(|point| point.1).max(timeline.jobs).max(1);
    let waiting_top = most(|point| point.2);
    let y = |count: usize, top: usize| {
        AXIS + CURVE - CURVE * lossy_usize(count) / lossy_usize(top.max(1))
    };
    let _ = writeln!(
        out,
        "<h2>Concurrency</h2>\n<svg class=\"concurrency\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"How many tasks ran and waited over time\">",
        w = LABELS + PLOT + 10.0,
        h = AXIS + CURVE + 18.0
    );
    axis(out, wall, AXIS + CURVE);
    let jobs = y(timeline.jobs, running_top);
    let _ = writeln!(
        out,
        "<line class=\"jobs\" x1=\"{LABELS}\" y1=\"{jobs:.1}\" x2=\"{:.1}\" y2=\"{jobs:.1}\"/>\
         <text x=\"0\" y=\"{:.1}\">jobs {}</text>",
        LABELS + PLOT,
        jobs + 4.0,
        timeline.jobs
    );
    if waiting_top > 0 {
        let _ = writeln!(
            out,
            "<text class=\"key-waiting\" text-anchor=\"end\" x=\"{:.1}\" y=\"{:.1}\">\
             at most {waiting_top} waiting</text>",
            LABELS + PLOT,
            AXIS + CURVE + 15.0
        );
    }
    for (class, top) in [("running", running_top), ("waiting", waiting_top)] {
        let mut points = String::new();
        let mut previous: Option<usize> = None;
        for point in &curve {
            let value = if class == "running" { point.1 } else { point.2 };
            let left = x(point.0, wall);
            if let Some(before) = previous {
                let _ = write!(points, "{left:.1},{:.1} ", y(before, top));
            }
            let _ = write!(points, "{left:.1},{:.1} ", y(value, top));
            previous = Some(value);
        }
        let _ = writeln!(
            out,
            "<polyline class=\"{class}\" points=\"{}\"/>",
            points.trim_end()
        );
    }
    out.push_str(
        "</svg>\n<p class=\"legend\"><span class=\"key-running\"><i></i>running (up to the jobs line)</span>\
         <span class=\"key-waiting\"><i></i>ready, waiting for a place (up to its peak)</span></p>\n",
    );
}

/// The curve with at most two points a pixel: in each pixel, the most
/// that ran and the most that waited (so that no peak is lost), then the
/// values the pixel ends with.
fn peaks(curve: &[Point], wall: u64) -> Vec<Point> {
    let column = |at: u64| -> u64 {
        if wall == 0 {
            0
        } else {
            u64::try_from(u128::from(at) * 1000 / u128::from(wall)).unwrap_or(u64::MAX)
        }
    };
    let mut kept: Vec<Point> = Vec::new();
    let mut first = 0;
    while first < curve.len() {
        let here = column(curve[first].0);
        let mut next = first;
        let (mut running, mut waiting) = (0, 0);
        while next < curve.len() && column(curve[next].0) == here {
            running = running.max(curve[next].1);
            waiting = waiting.max(curve[next].2);
            next += 1;
        }
        kept.push((curve[first].0, running, waiting));
        let last = curve[next - 1];
        if (last.1, last.2) != (running, waiting) {
            kept.push(last);
        }
        first = next;
    }
    kept
}

fn table(out: &mut String, timeline: &Timeline<'_>) {
    let mut bars: Vec<&Bar<'_>> = timeline.bars.iter().collect();
    bars.sort_by_key(|bar| {
        (
            std::cmp::Reverse(bar.duration),
            bar.task.position,
            bar.task.attempt,
        )
    });
    out.push_str(
        "<h2>Tasks</h2>\n<table class=\"tasks\">\n<thead><tr><th>Task</th><th>Status</th>\
         <th class=\"num\">Duration</th><th class=\"num\">Start</th><th class=\"num\">Slot</th>\
         <th class=\"num\">Attempt</th><th>Command</th></tr></thead>\n<tbody>\n",
    );
    for bar in bars {
        let _ = writeln!(
            out,
            "<tr><td{}>{}</td><td class=\"{}\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">+{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td><code>{}</code></td></tr>",
            if bar.critical {
                " class=\"critical\" title=\"on the critical path\""
            } else {
                ""
            },
            escape(&bar.task.name),
            bar.category(),
            bar.category(),
            time(bar.duration),
            time(bar.start),
            bar.lane,
            bar.task.attempt,
            escape(cut(&bar.task.command, COMMAND))
        );
    }
    for (task, _) in &timeline.unstarted {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td class=\"num\"></td>\
             <td class=\"num\"></td><td class=\"num\"></td><td class=\"num\"></td>\
             <td><code>{}</code></td></tr>",
            escape(&task.name),
            task.state.as_str(),
            escape(&task.ending()),
            escape(cut(&task.command, COMMAND))
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn failures(out: &mut String, tasks: &[TaskRow]) {
    let failed: Vec<&TaskRow> = last_attempts(tasks)
        .into_iter()
        .filter(|task| {
            matches!(
                task.state,
                TaskState::Ended(Status::Failed | Status::Timeout)
            )
        })
        .collect();
    if failed.is_empty() {
        return;
    }
    out.push_str("<h2>Failures</h2>\n");
    for task in failed {
        let (stream, output) = if task.stderr.total > 0 || task.stdout.total == 0 {
            ("stderr", &task.stderr)
        } else {
            ("stdout", &task.stdout)
        };
        let bytes = output.last_bytes();
        let start = bytes.len().saturating_sub(TAIL);
        let tail = String::from_utf8_lossy(&bytes[start..]);
        let _ = writeln!(
            out,
            "<section class=\"failure\">\n<h3 class=\"{}\">{}</h3>\n<p>{}; the end of its {stream}{}:</p>\n<pre>{}</pre>\n</section>",
            task.state.as_str(),
            escape(&task.name),
            escape(&task.ending()),
            if output.total > i64::try_from(TAIL).unwrap_or(i64::MAX) {
                format!(
                    " (the last {})",
                    super::history::size(i64::try_from(TAIL).unwrap_or(0))
                )
            } else {
                String::new()
            },
            escape(&tail)
        );
    }
}

/// Microseconds as every report shows a duration.
fn time(us: u64) -> String {
    format_duration(Duration::from_micros(us))
}

#[expect(clippy::cast_precision_loss, reason = "drawn to a tenth of a pixel")]
fn lossy(value: u64) -> f64 {
    value as f64
}

#[expect(clippy::cast_precision_loss, reason = "drawn to a tenth of a pixel")]
fn lossy_usize(value: usize) -> f64 {
    value as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Exit;
    use crate::record::Lane;
    use crate::testing::{run_row, task_row};

    fn ran(position: i64, name: &str, start: u64, slot: usize, state: TaskState) -> TaskRow {
        TaskRow {
            lane: Some(Lane {
                start: Duration::from_millis(start),
                slot,
            }),
            started_at: Some(0),
            duration: Some(Duration::from_millis(100)),
            ..task_row(position, name, state)
        }
    }

    #[test]
    fn the_page_is_well_formed_and_escapes_every_user_string() {
        let hostile = "</svg><script>alert(1)</script>&'\"";
        let mut run = run_row(3);
        run.jobs = Some(2);
        run.taskfile_relative = Some(hostile.into());
        let mut failed = ran(1, hostile, 100, 1, TaskState::Ended(Status::Failed));
        failed.exit = Some(Exit::Code(1));
        failed.deps = vec!["a".into()];
        failed.stderr.bytes = format!("\u{1b}[31m{hostile}\u{1b}[0m\n").into_bytes();
        failed.stderr.total = 40;
        let tasks = [ran(0, "a", 0, 0, TaskState::Ended(Status::Passed)), failed];
        let timeline = Timeline::of(&run, &tasks);
        let page = html(&timeline, &tasks);
        let document = roxmltree::Document::parse_with_options(
            &page,
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..roxmltree::ParsingOptions::default()
            },
        )
        .unwrap_or_else(|error| panic!("{error}\n{page}"));
        assert!(!page.contains("<script"), "{page}");
        let rects = document
            .descendants()
            .filter(|node| node.has_tag_name("rect"))
            .count();
        assert_eq!(rects, 2);
        let critical: Vec<String> = document
            .descendants()
            .filter(|node| {
                node.has_tag_name("rect")
                    && node
                        .attribute("class")
                        .is_some_and(|class| class.split(' ').any(|word| word == "critical"))
            })
            .filter_map(|node| node.first_element_child()?.text().map(str::to_owned))
            .collect();
        assert_eq!(critical.len(), 2, "{critical:?}");
        assert!(critical[1].starts_with(hostile), "{critical:?}");
        let pre: Vec<&str> = document
            .descendants()
            .filter(|node| node.has_tag_name("pre"))
            .filter_map(|node| node.text())
            .collect();
        assert_eq!(pre, [format!("{hostile}\n")]);
    }

    #[test]
    fn tick_labels_differ() {
        let labels = |step: f64| -> Vec<String> {
            (0..4)
                .map(|tick| {
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "small whole numbers"
                    )]
                    let us = (f64::from(tick) * step) as u64;
                    tick_label(us, step)
                })
                .collect()
        };
        assert_eq!(labels(50_000.0), ["0.00s", "0.05s", "0.10s", "0.15s"]);
        assert_eq!(labels(2e6), ["0s", "2s", "4s", "6s"]);
        assert_eq!(labels(500.0), ["0.0000s", "0.0005s", "0.0010s", "0.0015s"]);
        assert_eq!(labels(120e6)[1], "2m00s");
    }

    #[test]
    fn an_empty_run_is_a_page_too() {
        let run = run_row(1);
        let page = html(&Timeline::of(&run, &[]), &[]);
        roxmltree::Document::parse_with_options(
            &page,
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..roxmltree::ParsingOptions::default()
            },
        )
        .unwrap_or_else(|error| panic!("{error}\n{page}"));
        assert!(
            page.contains("<th>Critical path</th><td>none</td>"),
            "{page}"
        );
    }

    #[test]
    fn a_busy_curve_keeps_its_peaks_at_one_point_a_pixel() {
        // 10,000 changes in a run of 1,000 pixels.
        let curve: Vec<(u64, usize, usize)> = (0..10_000u64)
            .map(|at| (at, usize::from(at % 10 == 3) * 5, 0))
            .collect();
        let kept = peaks(&curve, 10_000);
        assert!(kept.len() <= 2000, "{}", kept.len());
        // Every pixel shows its peak, then falls back to what it ends with.
        assert_eq!(kept.iter().filter(|point| point.1 == 5).count(), 1000);
        assert_eq!(kept.last(), Some(&(9_999, 0, 0)));
    }
}
