//! RecordIO, the framing of the v1 streaming APIs (`docs/recordio.md`): each record is its
//! length in decimal ASCII, a line feed, then that many bytes.
//!
//! ```text
//! records     = *record
//! record      = record-size LF record-data
//! record-size = 1*DIGIT          ; a uint64
//! ```
//!
//! Chunk boundaries carry no meaning (proxies may re-chunk), so [`Decoder`] is incremental.
//! Like stout's decoder (`3rdparty/stout/include/stout/recordio.hpp`) it yields a zero-length
//! record for `0\n` and stays failed after the first malformed header: once a length is lost
//! there is no way to find the next record. Unlike stout it bounds memory: a header longer
//! than 20 digits, or a length over the caller's maximum, fails as soon as it is seen.

use bytes::{Bytes, BytesMut};

/// Digits in `u64::MAX`; a longer header cannot be a valid length.
const MAX_HEADER_DIGITS: usize = 20;

/// A malformed RecordIO stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The length header holds something other than decimal digits.
    #[error("invalid record length header '{0}': expected decimal digits")]
    InvalidHeader(String),
    /// The length header is longer than any `u64`.
    #[error("record length header longer than {MAX_HEADER_DIGITS} digits")]
    HeaderTooLong,
    /// The record is larger than the decoder accepts.
    #[error("record of {length} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge {
        /// The length announced by the header.
        length: u64,
        /// The decoder's limit.
        max: usize,
    },
    /// An earlier chunk was malformed; the stream cannot be resynchronized.
    #[error("recordio decoder failed earlier in the stream")]
    Failed,
}

/// Appends `record` framed as `<len>\n<bytes>` to `out`.
pub fn encode(record: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(record.len().to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(record);
}

/// Incremental decoder: feed chunks as they arrive, get the records they complete.
#[derive(Debug)]
pub struct Decoder {
    max_record: usize,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Reading the digits of a length; holds those seen so far.
    Header(String),
    /// Reading a record's bytes; `remaining` more are due after `buf`.
    Record {
        buf: BytesMut,
        remaining: usize,
    },
    Failed,
}

impl Decoder {
    /// A decoder that rejects records longer than `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        Decoder {
            max_record,
            state: State::Header(String::new()),
        }
    }

    /// Decodes `chunk`, returning every record it completes, in order. After an error every
    /// later call returns [`Error::Failed`].
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<Vec<Bytes>, Error> {
        let mut records = Vec::new();
        while !chunk.is_empty() {
            match &mut self.state {
                State::Failed => return Err(Error::Failed),
                State::Header(digits) => {
                    let byte = chunk[0];
                    chunk = &chunk[1..];
                    match byte {
                        b'\n' => match self.end_header()? {
                            Some(empty) => records.push(empty),
                            None => {}
                        },
                        b'0'..=b'9' if digits.len() < MAX_HEADER_DIGITS => {
                            digits.push(char::from(byte));
                        }
                        b'0'..=b'9' => return Err(self.fail(Error::HeaderTooLong)),
                        other => {
                            let mut seen = std::mem::take(digits);
                            seen.push_str(&char::from(other).escape_default().to_string());
                            return Err(self.fail(Error::InvalidHeader(seen)));
                        }
                    }
                }
                State::Record { buf, remaining } => {
                    let take = (*remaining).min(chunk.len());
                    buf.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    *remaining -= take;
                    if *remaining == 0 {
                        records.push(std::mem::take(buf).freeze());
                        self.state = State::Header(String::new());
                    }
                }
            }
        }
        if matches!(self.state, State::Failed) {
            return Err(Error::Failed);
        }
        Ok(records)
    }

    /// True when no partial header or record is buffered: a stream that ends here ended on a
    /// record boundary.
    pub fn is_empty_buffer(&self) -> bool {
        matches!(&self.state, State::Header(digits) if digits.is_empty())
    }

    /// Parses the finished header; returns the record at once when it is empty.
    fn end_header(&mut self) -> Result<Option<Bytes>, Error> {
        let State::Header(digits) = &mut self.state else {
            return Ok(None);
        };
        let digits = std::mem::take(digits);
        if digits.is_empty() {
            return Err(self.fail(Error::InvalidHeader(digits)));
        }
        // At most 20 digits, all ASCII digits: only overflow past u64::MAX can fail here.
        let Ok(length) = digits.parse::<u64>() else {
            return Err(self.fail(Error::HeaderTooLong));
        };
        let too_large = Error::RecordTooLarge {
            length,
            max: self.max_record,
        };
        let length = match usize::try_from(length) {
            Ok(n) if n <= self.max_record => n,
            _ => return Err(self.fail(too_large)),
        };
        if length == 0 {
            // stout's decoder yields an empty record for `0\n`.
            return Ok(Some(Bytes::new()));
        }
        self.state = State::Record {
            // The announced length is bounded by `max_record`, but the bytes may never come:
            // grow with what arrives rather than reserving it all up front.
            buf: BytesMut::with_capacity(length.min(64 * 1024)),
            remaining: length,
        };
        Ok(None)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.state = State::Failed;
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_docs_example() {
        // docs/recordio.md: `{"type":"HEARTBEAT"}` is framed as `20\n{"type":"HEARTBEAT"}`.
        let mut out = Vec::new();
        encode(br#"{"type":"HEARTBEAT"}"#, &mut out);
        assert_eq!(out, b"20\n{\"type\":\"HEARTBEAT\"}");
    }

    #[test]
    fn decodes_across_chunks() {
        let mut d = Decoder::new(1024);
        assert_eq!(d.feed(b"5\nhel").unwrap(), Vec::<Bytes>::new());
        assert!(!d.is_empty_buffer());
        assert_eq!(d.feed(b"lo6").unwrap(), vec![Bytes::from_static(b"hello")]);
        assert_eq!(
            d.feed(b"\nworld!").unwrap(),
            vec![Bytes::from_static(b"world!")]
        );
        assert!(d.is_empty_buffer());
    }

    #[test]
    fn zero_length_record_is_an_empty_record() {
        // stout's recordio::Decoder: "for 0 length records, we immediately decode".
        let mut d = Decoder::new(16);
        assert_eq!(
            d.feed(b"0\n2\nhi").unwrap(),
            vec![Bytes::new(), Bytes::from_static(b"hi")]
        );
    }

    #[test]
    fn rejects_bad_headers_and_stays_failed() {
        let mut d = Decoder::new(16);
        assert_eq!(d.feed(b"1x\n"), Err(Error::InvalidHeader("1x".to_owned())));
        assert_eq!(d.feed(b"1\na"), Err(Error::Failed));

        let mut d = Decoder::new(16);
        assert_eq!(d.feed(b"\n"), Err(Error::InvalidHeader(String::new())));

        let mut d = Decoder::new(16);
        assert_eq!(d.feed(b"-1\n"), Err(Error::InvalidHeader("-".to_owned())));

        let mut d = Decoder::new(16);
        assert_eq!(
            d.feed(b"17\n"),
            Err(Error::RecordTooLarge {
                length: 17,
                max: 16
            })
        );

        let mut d = Decoder::new(usize::MAX);
        assert_eq!(d.feed(&[b'9'; 21]), Err(Error::HeaderTooLong));
        let mut d = Decoder::new(usize::MAX);
        assert_eq!(d.feed(b"99999999999999999999\n"), Err(Error::HeaderTooLong));
    }
}
