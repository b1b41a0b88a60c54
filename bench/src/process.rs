//! What a process costs, read from `/proc`: resident memory and CPU time.

use std::time::Duration;

use anyhow::{Context, Result};

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// Resident memory of `pid` now, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Result<u64> {
    status_field(pid, "VmRSS:")
}

/// Peak resident memory of `pid`, in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> Result<u64> {
    status_field(pid, "VmHWM:")
}

fn status_field(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("{field} in /proc/{pid}/status"))?;
    line.split_whitespace()
        .nth(1)
        .context("a number")?
        .parse()
        .context("a number")
}

/// User plus system CPU time `pid` used so far (`"self"` works too).
pub fn cpu_time(pid: &str) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').context("a stat line")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields
        .get(11..13)
        .context("utime and stime")?
        .iter()
        .map(|f| f.parse::<u64>())
        .sum::<Result<u64, _>>()?;
    Ok(Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND))
}

/// CPU time used between two readings of [`cpu_time`].
#[derive(Clone, Copy, Debug)]
pub struct CpuMeter {
    pid: u32,
    server_start: Duration,
    own_start: Duration,
}

/// CPU seconds a measurement cost the server and the load generator.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuUsed {
    pub server: Duration,
    pub generator: Duration,
}

impl CpuMeter {
    pub fn start(pid: u32) -> Result<CpuMeter> {
        Ok(CpuMeter {
            pid,
            server_start: cpu_time(&pid.to_string())?,
            own_start: cpu_time("self")?,
        })
    }

    pub fn stop(&self) -> Result<CpuUsed> {
        Ok(CpuUsed {
            server: cpu_time(&self.pid.to_string())?.saturating_sub(self.server_start),
            generator: cpu_time("self")?.saturating_sub(self.own_start),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_its_cpu_time_grows() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        let rss = rss_kib(pid).unwrap();
        assert!(peak_rss_kib(pid).unwrap() >= rss);
        let before = cpu_time("self").unwrap();
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(200) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(cpu_time("self").unwrap() > before);
    }
}
