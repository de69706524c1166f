//! Fixed windows of N flows: [`WindowBuilder`] computes the eight features
//! and the concentration context, [`WindowReader`] streams a file into windows.

#[allow(unused_imports)]
use super::*;

/// Where a window's traffic concentrates (inputs of the pattern rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concentration {
    /// Most frequent destination address.
    pub top_dst_ip: String,
    /// Share of the window's flows going to it.
    pub top_dst_ip_share: f64,
    /// Whether that address is a public (globally routed) IP.
    pub top_dst_public: bool,
    /// Most frequent destination port.
    pub top_dst_port: u16,
    /// Share of the window's flows going to it.
    pub top_dst_port_share: f64,
}

/// One window of flows with its features.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowWindow {
    /// Input file.
    pub file: String,
    /// 0-based window number within the file.
    pub index: usize,
    /// 0-based number of the window's first valid flow within the file.
    pub first_flow: u64,
    /// Flows in the window (less than the window length for a kept partial window).
    pub flows: usize,
    /// Feature values, in [`FEATURES`] order.
    pub features: [f64; N_FEATURES],
    /// Share of flows labelled non-BENIGN; `None` when no flow carried a label.
    pub attack_ratio: Option<f64>,
    /// Concentration context.
    pub concentration: Concentration,
}

/// Accumulates flows into one window; memory is bounded by the window length.
#[derive(Debug, Default)]
pub struct WindowBuilder {
    flows: usize,
    bytes: f64,
    packets: f64,
    sum_bps: f64,
    sum_pps: f64,
    labelled: usize,
    attacks: usize,
    src: FxHashSet<String>,
    dst: FxHashMap<String, u32>,
    ports: FxHashMap<u16, u32>,
}

impl WindowBuilder {
    /// Add one flow.
    pub fn push(&mut self, f: &Flow) {
        self.flows += 1;
        self.bytes += f.bytes;
        self.packets += f.packets;
        self.sum_bps += f.bytes_per_sec;
        self.sum_pps += f.packets_per_sec;
        if let Some(a) = f.attack {
            self.labelled += 1;
            self.attacks += usize::from(a);
        }
        if !self.src.contains(f.src.as_str()) {
            self.src.insert(f.src.clone());
        }
        match self.dst.get_mut(f.dst.as_str()) {
            Some(c) => *c += 1,
            None => {
                self.dst.insert(f.dst.clone(), 1);
            }
        }
        match self.ports.entry(f.dst_port) {
            Entry::Occupied(mut e) => *e.get_mut() += 1,
            Entry::Vacant(e) => {
                e.insert(1);
            }
        }
    }

    /// Flows added so far.
    pub fn len(&self) -> usize {
        self.flows
    }

    /// No flow added yet.
    pub fn is_empty(&self) -> bool {
        self.flows == 0
    }

    /// Features of the flows added; extensive features are scaled to `window`
    /// flows (a no-op for a full window). Resets the builder.
    pub fn finish(
        &mut self,
        file: &str,
        index: usize,
        first_flow: u64,
        window: usize,
    ) -> FlowWindow {
        let n = self.flows.max(1) as f64;
        let scale = window as f64 / n;
        let features = [
            self.bytes * scale,
            self.packets * scale,
            self.src.len() as f64,
            self.dst.len() as f64,
            self.ports.len() as f64,
            self.sum_bps / n,
            self.sum_pps / n,
            self.packets / n,
        ];
        // Ties broken by the smaller key, so the result does not depend on hashing.
        let (top_dst_ip, dst_count) = self
            .dst
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(k, c)| (k.clone(), *c))
            .unwrap_or_default();
        let (top_dst_port, port_count) = self
            .ports
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(k, c)| (*k, *c))
            .unwrap_or_default();
        let top_dst_public = top_dst_ip.parse::<IpAddr>().is_ok_and(is_public);
        let w = FlowWindow {
            file: file.to_owned(),
            index,
            first_flow,
            flows: self.flows,
            features,
            attack_ratio: (self.labelled > 0).then(|| self.attacks as f64 / self.labelled as f64),
            concentration: Concentration {
                top_dst_ip,
                top_dst_ip_share: f64::from(dst_count) / n,
                top_dst_public,
                top_dst_port,
                top_dst_port_share: f64::from(port_count) / n,
            },
        };
        *self = WindowBuilder::default();
        w
    }
}

/// A globally routed address (not private, loopback, link-local, CGNAT,
/// multicast, documentation or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || (o[0] == 100 && (o[1] & 0xC0) == 64))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Reads one CSV file window by window (see the module docs for the rules).
pub struct WindowReader {
    input: CsvInput,
    layout: Layout,
    window: usize,
    file: String,
    builder: WindowBuilder,
    rec: csv::StringRecord,
    counts: RowCounts,
    next_index: usize,
    first_flow: u64,
    last_error_line: Option<u64>,
    first_bad: Vec<(u64, InvalidReason)>,
    done: bool,
}

/// How many rejected rows a reader remembers (line and reason) for messages.
pub const FIRST_BAD_ROWS: usize = 3;

impl fmt::Debug for WindowReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowReader")
            .field("file", &self.file)
            .field("window", &self.window)
            .field("counts", &self.counts)
            .finish()
    }
}

impl WindowReader {
    /// Open `path` and resolve its columns. Fails (naming the file and every
    /// missing column) before any row is read.
    pub fn open(path: &Path, window: usize) -> Result<Self, CicidsError> {
        Self::new(CsvInput::open(path)?, window)
    }

    /// Wrap an already opened input.
    pub fn new(input: CsvInput, window: usize) -> Result<Self, CicidsError> {
        if window == 0 {
            return Err(CicidsError::BadWindow);
        }
        let layout = Layout::resolve(&input)?;
        let file = input.path().display().to_string();
        Ok(WindowReader {
            input,
            layout,
            window,
            file,
            builder: WindowBuilder::default(),
            rec: csv::StringRecord::new(),
            counts: RowCounts::default(),
            next_index: 0,
            first_flow: 0,
            last_error_line: None,
            first_bad: Vec::new(),
            done: false,
        })
    }

    /// Whether the file has a label column.
    pub fn has_labels(&self) -> bool {
        self.layout.has_label()
    }

    /// The file's flow exporter dialect.
    pub fn dialect(&self) -> Dialect {
        self.layout.dialect
    }

    /// Row counts so far (complete once [`next_window`](Self::next_window) returned `None`).
    pub fn counts(&self) -> &RowCounts {
        &self.counts
    }

    /// The next window, or `None` at the end of the file.
    pub fn next_window(&mut self) -> Option<FlowWindow> {
        while !self.done {
            match self.input.next_record(&mut self.rec) {
                Ok(true) => {
                    self.counts.rows += 1;
                    match parse_flow(&self.rec, &self.layout) {
                        Ok(flow) => {
                            self.counts.valid += 1;
                            self.builder.push(&flow);
                            if self.builder.len() == self.window {
                                return Some(self.emit());
                            }
                        }
                        Err(reason) => self.reject(reason),
                    }
                }
                Ok(false) => self.done = true,
                Err(_) => {
                    // A reader that fails twice at the same line makes no
                    // progress (I/O error): stop instead of spinning.
                    let line = self.input.line();
                    if self.last_error_line == Some(line) {
                        self.done = true;
                    } else {
                        self.last_error_line = Some(line);
                        self.counts.rows += 1;
                        self.reject(InvalidReason::Malformed);
                    }
                }
            }
        }
        if self.builder.is_empty() {
            return None;
        }
        let min = (self.window as f64 * MIN_PARTIAL_FRACTION).ceil() as usize;
        if self.builder.len() >= min.max(1) {
            Some(self.emit())
        } else {
            self.counts.tail_dropped = self.builder.len() as u64;
            self.builder = WindowBuilder::default();
            None
        }
    }

    fn reject(&mut self, reason: InvalidReason) {
        self.counts.count(reason);
        if self.first_bad.len() < FIRST_BAD_ROWS {
            self.first_bad.push((self.input.line(), reason));
        }
    }

    /// The first rejected rows (line, reason), at most [`FIRST_BAD_ROWS`].
    pub fn first_bad(&self) -> &[(u64, InvalidReason)] {
        &self.first_bad
    }

    /// When the file had rows and every one was rejected (call after the
    /// last window): the error to report, naming the file, the dialect it
    /// was read as, and the first bad lines. `None` otherwise.
    pub fn unusable(&self) -> Option<String> {
        if self.counts.rows == 0 || self.counts.valid > 0 {
            return None;
        }
        let lines: Vec<String> = self
            .first_bad
            .iter()
            .map(|(line, r)| format!("line {line}: {}", r.as_str()))
            .collect();
        Some(format!(
            "{}: no usable row (read as {}; {} rows, all dropped: {}); first bad lines: {}",
            self.file,
            self.layout.dialect.describe(),
            self.counts.rows,
            self.counts.invalid_summary(),
            lines.join("; ")
        ))
    }

    fn emit(&mut self) -> FlowWindow {
        let n = self.builder.len() as u64;
        let w = self
            .builder
            .finish(&self.file, self.next_index, self.first_flow, self.window);
        self.next_index += 1;
        self.first_flow += n;
        w
    }
}
