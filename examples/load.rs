//! What the load tools (`wsload`, `roomload`, `soak`) read about the process they
//! measure.

/// `VmRSS` and `VmHWM` (peak) of a process, in MiB, from /proc.
///
/// ```
/// let (rss, peak) = fabric_examples::load::memory_of(std::process::id()).unwrap();
/// assert!(rss > 0.0 && peak >= rss);
/// ```
pub fn memory_of(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
