//! Transparent gzip: sources may hand us plain or gzip-compressed bytes.

use std::io::{BufRead, BufReader, Read};

/// Wraps `input` in a gzip decoder when it starts with the gzip magic bytes,
/// and hands it back unchanged otherwise.
pub fn maybe_gunzip<R: Read + 'static>(input: R) -> std::io::Result<Box<dyn BufRead>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, input);
    let magic = buffered.fill_buf()?;
    if magic.len() >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
        let decoder = flate2::bufread::MultiGzDecoder::new(buffered);
        Ok(Box::new(BufReader::with_capacity(256 * 1024, decoder)))
    } else {
        Ok(Box::new(buffered))
    }
}
