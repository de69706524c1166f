//! TEMPORARY stub with the agreed API; replaced by the real decoder.
#![allow(missing_docs, dead_code)]
use crate::event::{DnsMessage, RawPacket, TsMicros};
use crate::stats::Stats;
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    pub max_fragment_sets: usize,
    pub fragment_timeout: TsMicros,
    pub max_tcp_flows: usize,
    pub max_tcp_buffer: usize,
    pub tcp_flow_timeout: TsMicros,
}
impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            max_fragment_sets: 1024,
            fragment_timeout: 30_000_000,
            max_tcp_flows: 4096,
            max_tcp_buffer: 70_000,
            tcp_flow_timeout: 60_000_000,
        }
    }
}
pub struct Location<'a> {
    pub source: &'a str,
    pub packet: u64,
}
#[derive(Debug, Default)]
pub struct Decoder;
impl Decoder {
    pub fn new(_c: DecodeConfig) -> Self {
        Decoder
    }
    pub fn decode<F: FnMut(&DnsMessage<'_>)>(
        &mut self,
        _p: &RawPacket<'_>,
        _l: &Location<'_>,
        _s: &mut Stats,
        _f: F,
    ) -> usize {
        0
    }
    pub fn expire(&mut self, _now: TsMicros, _s: &mut Stats) {}
}
