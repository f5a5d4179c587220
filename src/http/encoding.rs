//! Content codings and the conditional GET that depends on them, for every response in one place.
//!
//! gzip, brotli and zstd are negotiated by `Accept-Encoding` (q-values, `identity`, `*`, tokens in any
//! case; what cannot be read is ignored, never an error) for textual media types (JSON, problem+json,
//! CSV, HTML, CSS, SVG, GeoJSON, calendars, …) above [`MIN_SIZE`]. Each coding is its own representation,
//! so it gets its own strong ETag (`"h"` → `"h-gzip"`, RFC 9110 §8.8.3), and `If-None-Match` and
//! `If-Modified-Since` are answered here, after the handler, where the coding and so the ETag are known.
//! `If-Match` accepts every coding's tag (see [`identity_tag`]): a client that read compressed can
//! write.
//!
//! The read cache keeps each coding of an answer once it was asked for ([`Effort::Cached`], a high
//! level); everything else is compressed on the fly at a fast level, whole bodies at once and streams
//! chunk by chunk (no `Content-Length` then).
//!
//! Not actix-web's `Compress` middleware: it keeps the identity ETag for every coding and compresses each
//! response anew, so it could neither give the codings their own validators nor reuse the cached ones.
//! flate2 (zlib-rs, pure Rust), brotli and zstd do the work.

use std::borrow::Cow;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::header::{self, HeaderMap};
use bytes::Bytes;

/// Bodies smaller than this are sent as they are: compression would save a few bytes at best.
pub const MIN_SIZE: u64 = 1024;

/// A content coding the service can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Gzip,
    Brotli,
    Zstd,
}

impl Coding {
    /// In the order the service prefers them when a client accepts several equally: the smallest first.
    pub const ALL: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

    /// The token of `Content-Encoding` and the suffix of the coding's ETags.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// A dense index, for arrays of one slot per coding.
    pub fn index(self) -> usize {
        match self {
            Coding::Gzip => 0,
            Coding::Brotli => 1,
            Coding::Zstd => 2,
        }
    }

    fn matches(self, token: &str) -> bool {
        token.eq_ignore_ascii_case(self.token()) || (self == Coding::Gzip && token.eq_ignore_ascii_case("x-gzip"))
    }
}

/// How much work a compression may take. The levels were chosen on the dataset export (646 KB of JSON,
/// release build): on the fly gzip 3 (1.3 ms, 47 KB; zlib-rs' level 1 is a quick mode giving 70 KB),
/// brotli 4 (3 ms, 27 KB), zstd 3 (0.7 ms, 27 KB); cached gzip 6 (1.7 ms, 43 KB; 9 is no smaller), brotli
/// 9 (37 ms, 26 KB; 11 saves another 10 % but takes 540 ms, for every cached answer after every write),
/// zstd 15 (30 ms, 25 KB; 19 takes 270 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// For every request anew: reads with a key, answers the cache does not keep, streams.
    OnTheFly,
    /// Once per cached answer and coding, then reused by every read while the registry is unchanged.
    Cached,
}

impl Effort {
    fn level(self, coding: Coding) -> u32 {
        match (self, coding) {
            (Effort::OnTheFly, Coding::Gzip) => 3,
            (Effort::OnTheFly, Coding::Brotli) => 4,
            (Effort::OnTheFly, Coding::Zstd) => 3,
            (Effort::Cached, Coding::Gzip) => 6,
            (Effort::Cached, Coding::Brotli) => 9,
            (Effort::Cached, Coding::Zstd) => 15,
        }
    }
}

/// A weight of `Accept-Encoding`, in thousandths.
type Weight = u16;

/// A `q` parameter: a number from 0 to 1; `None` when it is anything else.
fn qvalue(text: &str) -> Option<Weight> {
    let value: f64 = text.trim().parse().ok()?;
    (value.is_finite() && (0.0..=1.0).contains(&value)).then(|| (value * 1000.0).round() as Weight)
}

/// The coding to send, from the request's `Accept-Encoding` lines; `None` is identity.
///
/// A coding's weight is its own entry's, else that of `*`, else it is not acceptable. The heaviest
/// acceptable coding wins, ties by [`Coding::ALL`], unless the client weighs `identity` (or `*` covering
/// it) higher. Entries that cannot be read (bad `q`, not text) are skipped; without the header, or when
/// nothing is acceptable, the body is sent as it is (RFC 9110 §12.5.3 allows that rather than a 415).
pub fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let mut weights: [Option<Weight>; 3] = [None; 3];
    let (mut any, mut identity): (Option<Weight>, Option<Weight>) = (None, None);
    for line in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(text) = line.to_str() else { continue };
        for element in text.split(',') {
            let mut parts = element.split(';');
            let token = parts.next().unwrap_or_default().trim();
            let mut weight = Some(1000);
            let mut readable = !token.is_empty();
            for parameter in parts {
                match parameter.split_once('=') {
                    Some((name, value)) if name.trim().eq_ignore_ascii_case("q") => weight = qvalue(value),
                    Some(_) => {}
                    None => readable = false,
                }
            }
            let Some(weight) = weight.filter(|_| readable) else { continue };
            let slot = if token == "*" {
                &mut any
            } else if token.eq_ignore_ascii_case("identity") {
                &mut identity
            } else if let Some(coding) = Coding::ALL.into_iter().find(|c| c.matches(token)) {
                &mut weights[coding.index()]
            } else {
                continue;
            };
            *slot = Some(slot.map_or(weight, |w| w.max(weight)));
        }
    }
    let weight_of = |coding: Coding| weights[coding.index()].or(any).unwrap_or(0);
    let best = Coding::ALL.into_iter().rev().max_by_key(|&coding| weight_of(coding))?;
    let weight = weight_of(best);
    (weight > 0 && weight >= identity.or(any).unwrap_or(0)).then_some(best)
}

/// Whether bodies of this media type are worth compressing: text, JSON, XML and SVG; not images,
/// archives or event streams (which must not wait for a compressor's buffer).
pub fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else { return false };
    let is = |name: &str| subtype.eq_ignore_ascii_case(name);
    let suffix =
        |name: &str| subtype.len() >= name.len() && subtype[subtype.len() - name.len()..].eq_ignore_ascii_case(name);
    if kind.eq_ignore_ascii_case("text") {
        !is("event-stream")
    } else if kind.eq_ignore_ascii_case("application") {
        ["json", "javascript", "xml", "x-ndjson", "wasm"].into_iter().any(is) || suffix("+json") || suffix("+xml")
    } else {
        kind.eq_ignore_ascii_case("image") && is("svg+xml")
    }
}

/// The weakness prefix of an entity tag and the opaque part between its quotes.
fn opaque(tag: &str) -> Option<(&str, &str)> {
    let (weak, quoted) = tag.strip_prefix("W/").map_or(("", tag), |rest| ("W/", rest));
    Some((weak, quoted.strip_prefix('"')?.strip_suffix('"')?))
}

/// The ETag of `coding`'s representation of the body tagged `etag`: `"h"` → `"h-gzip"`, `W/"h"` →
/// `W/"h-gzip"`.
pub fn variant_tag(etag: &str, coding: Coding) -> String {
    match opaque(etag) {
        Some((weak, inner)) => format!("{weak}\"{inner}-{}\"", coding.token()),
        None => etag.to_string(),
    }
}

/// The identity ETag a client's tag stands for: the tag of any coding's representation, without the
/// coding (`"h-br"` → `"h"`), so that `If-Match` and `If-None-Match` accept what the client got.
pub fn identity_tag(tag: &str) -> Cow<'_, str> {
    if let Some((weak, inner)) = opaque(tag) {
        for coding in Coding::ALL {
            let base = inner.strip_suffix(coding.token()).and_then(|b| b.strip_suffix('-'));
            if let Some(base) = base.filter(|b| !b.is_empty()) {
                return Cow::Owned(format!("{weak}\"{base}\""));
            }
        }
    }
    Cow::Borrowed(tag)
}

/// A compressor writing into memory; its output can be taken as it grows.
pub(crate) enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    pub(crate) fn new(coding: Coding, effort: Effort, capacity: usize) -> std::io::Result<Encoder> {
        let level = effort.level(coding);
        let output = Vec::with_capacity(capacity);
        Ok(match coding {
            Coding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(output, flate2::Compression::new(level))),
            Coding::Brotli => {
                // The window: brotli holds back output up to about twice it, which bounds what a stream
                // buffers; 1 MiB on the fly (a stream's memory stays flat), 4 MiB for the cache.
                let window = if effort == Effort::Cached { 22 } else { 20 };
                Encoder::Brotli(Box::new(brotli::CompressorWriter::new(output, 16 * 1024, level, window)))
            }
            Coding::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(output, level as i32)?),
        })
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_all(data),
            Encoder::Brotli(e) => e.write_all(data),
            Encoder::Zstd(e) => e.write_all(data),
        }
    }

    /// The output so far.
    fn take(&mut self) -> Vec<u8> {
        std::mem::take(match self {
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Brotli(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
        })
    }

    /// Ends the stream; the rest of the output.
    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Brotli(e) => Ok(e.into_inner()),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

/// `data` in `coding`, at once.
pub fn compress(coding: Coding, effort: Effort, data: &[u8]) -> std::io::Result<Bytes> {
    let mut encoder = Encoder::new(coding, effort, data.len() / 4 + 64)?;
    encoder.write(data)?;
    encoder.finish().map(Bytes::from)
}

/// A body of unknown length, compressed chunk by chunk as it streams.
pub(crate) struct EncodedStream {
    inner: BoxBody,
    /// `None` once the stream has ended.
    encoder: Option<Encoder>,
}

impl EncodedStream {
    pub(crate) fn new(inner: BoxBody, encoder: Encoder) -> EncodedStream {
        EncodedStream { inner, encoder: Some(encoder) }
    }
}

impl MessageBody for EncodedStream {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        loop {
            let Some(encoder) = this.encoder.as_mut() else { return Poll::Ready(None) };
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                Some(Ok(chunk)) => {
                    encoder.write(&chunk)?;
                    let output = encoder.take();
                    // Nothing out yet: the compressor is still collecting; read on.
                    if !output.is_empty() {
                        return Poll::Ready(Some(Ok(output.into())));
                    }
                }
                Some(Err(error)) => {
                    this.encoder = None;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    let rest = this.encoder.take().map(Encoder::finish).transpose()?.unwrap_or_default();
                    return Poll::Ready(Some(Ok(rest.into())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use actix_web::{HttpResponse, web};

    /// The bytes `encoded` stands for in `coding`.
    fn decode(coding: Coding, encoded: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut decoded = Vec::new();
        match coding {
            Coding::Gzip => flate2::read::GzDecoder::new(encoded).read_to_end(&mut decoded).unwrap(),
            Coding::Brotli => brotli::Decompressor::new(encoded, 4096).read_to_end(&mut decoded).unwrap(),
            Coding::Zstd => zstd::stream::read::Decoder::new(encoded).unwrap().read_to_end(&mut decoded).unwrap(),
        };
        decoded
    }

    fn accept(values: &[&str]) -> Option<&'static str> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        }
        negotiate(&headers).map(Coding::token)
    }

    #[test]
    fn negotiation() {
        assert_eq!(accept(&[]), None);
        assert_eq!(accept(&[""]), None);
        assert_eq!(accept(&["gzip"]), Some("gzip"));
        assert_eq!(accept(&["GZip"]), Some("gzip"));
        assert_eq!(accept(&["x-gzip"]), Some("gzip"));
        assert_eq!(accept(&["gzip, deflate, br, zstd"]), Some("br"));
        assert_eq!(accept(&["gzip, deflate", "zstd"]), Some("zstd"));
        assert_eq!(accept(&["br;q=0.5, gzip;q=0.8"]), Some("gzip"));
        assert_eq!(accept(&["br;Q=1.0, gzip ; q=0.8"]), Some("br"));
        assert_eq!(accept(&["gzip;q=0"]), None);
        assert_eq!(accept(&["*"]), Some("br"));
        assert_eq!(accept(&["*;q=0"]), None);
        assert_eq!(accept(&["*, br;q=0"]), Some("zstd"));
        assert_eq!(accept(&["gzip;q=0.5, identity"]), None);
        assert_eq!(accept(&["gzip;q=0.5"]), Some("gzip"));
        assert_eq!(accept(&["identity"]), None);
        assert_eq!(accept(&["identity;q=0, gzip;q=0"]), None);
        assert_eq!(accept(&["gzip;q=2"]), None);
        assert_eq!(accept(&["gzip;q=-1, br;q=nan, zstd;q=inf"]), None);
        assert_eq!(accept(&["gzip;q"]), None);
        assert_eq!(accept(&[";;;,,,;q=1,=,*;q=,gzip;q=0.001"]), Some("gzip"));
        assert_eq!(accept(&["deflate, compress"]), None);
        assert_eq!(accept(&["gzip;level=9"]), Some("gzip"));
        assert_eq!(accept(&["gzip;;q=1"]), None);
        assert_eq!(accept(&["br, gzip;q=0.5;q"]), Some("br"));
    }

    #[test]
    fn content_types() {
        for yes in [
            "application/json",
            "application/problem+json",
            "application/geo+json",
            "text/csv; charset=utf-8",
            "text/html; charset=utf-8",
            "text/calendar",
            "text/css",
            "application/javascript",
            "image/svg+xml",
            "Text/Plain",
        ] {
            assert!(compressible(yes), "{yes}");
        }
        for no in ["image/png", "application/zip", "application/gzip", "text/event-stream", "", "json"] {
            assert!(!compressible(no), "{no}");
        }
    }

    #[test]
    fn tags_per_coding() {
        assert_eq!(variant_tag("\"abc\"", Coding::Gzip), "\"abc-gzip\"");
        assert_eq!(variant_tag("W/\"abc\"", Coding::Brotli), "W/\"abc-br\"");
        for coding in Coding::ALL {
            assert_eq!(identity_tag(&variant_tag("\"abc\"", coding)), "\"abc\"");
            assert_eq!(identity_tag(&variant_tag("W/\"abc\"", coding)), "W/\"abc\"");
        }
        assert_eq!(identity_tag("\"abc\""), "\"abc\"");
        assert_eq!(identity_tag("\"-gzip\""), "\"-gzip\"");
        assert_eq!(identity_tag("\"gzip\""), "\"gzip\"");
        assert_eq!(identity_tag("-gzip\""), "-gzip\"");
        assert_eq!(identity_tag("*"), "*");
        assert_eq!(identity_tag("\""), "\"");
    }

    #[test]
    fn every_coding_round_trips() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| format!("{{\"n\":{}}},", i % 977).into_bytes()).collect();
        for effort in [Effort::OnTheFly, Effort::Cached] {
            for coding in Coding::ALL {
                let encoded = compress(coding, effort, &data).unwrap();
                assert!(encoded.len() < data.len() / 5, "{coding:?} {effort:?}");
                assert_eq!(decode(coding, &encoded), data, "{coding:?} {effort:?}");
            }
        }
    }

    /// A body of unknown length (a streamed export) is compressed as it streams: no Content-Length, the
    /// same bytes once decoded, and output before the stream has ended.
    #[actix_web::test]
    async fn streams_are_compressed_chunk_by_chunk() {
        use actix_web::middleware::from_fn;
        use actix_web::{App, test};
        let chunks: Vec<Bytes> = (0..20_000)
            .map(|i| Bytes::from(format!("{{\"record\":{i},\"text\":\"{}\"}}\n", "Bildung ".repeat(i % 50))))
            .collect();
        let expected = chunks.concat();
        let source = chunks.clone();
        let app = test::init_service(App::new().wrap(from_fn(crate::http::middleware::encoding::serve)).route(
            "/stream",
            web::get().to(move || {
                let chunks = source.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .insert_header((header::ETAG, "\"abc\""))
                        .streaming(futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>)))
                }
            }),
        ))
        .await;
        for coding in Coding::ALL {
            let request =
                test::TestRequest::get().uri("/stream").insert_header((header::ACCEPT_ENCODING, coding.token()));
            let response = test::call_service(&app, request.to_request()).await;
            assert_eq!(response.headers().get(header::CONTENT_ENCODING).unwrap(), coding.token());
            assert_eq!(response.headers().get(header::ETAG).unwrap(), &variant_tag("\"abc\"", coding));
            assert!(response.headers().get(header::CONTENT_LENGTH).is_none());
            let mut body = response.into_body();
            assert_eq!(body.size(), BodySize::Stream);
            let mut encoded = Vec::new();
            let mut pieces = 0;
            while let Some(piece) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await {
                encoded.extend_from_slice(&piece.unwrap());
                pieces += 1;
            }
            assert!(pieces > 1, "{coding:?}: output while streaming, not all at the end");
            assert_eq!(decode(coding, &encoded), expected, "{coding:?}");
            assert!(encoded.len() * 5 < expected.len(), "{coding:?}");
        }
        let plain = test::call_service(&app, test::TestRequest::get().uri("/stream").to_request()).await;
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(test::read_body(plain).await, expected);
    }
}
