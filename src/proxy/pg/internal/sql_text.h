// What the proxy's classifier reads of a statement's bytes. A client's SQL
// is in its client_encoding, which is UTF-8 almost always but can be any of
// PostgreSQL's encodings, and can change mid-session (SET client_encoding,
// set_config()) while statements are already in flight. So the proxy never
// relies on knowing it; it classifies a text that tokenizes exactly as the
// server will tokenize the bytes:
//
//  - valid UTF-8 is read as it is;
//  - anything else is read byte per byte as Latin-1 behind a marker comment.
//    Each byte stays one character (no two byte strings read alike, so a
//    dollar-quote tag or an approval can never match bytes it was not given),
//    and the ASCII bytes that give SQL its structure stay where they are. In
//    every client encoding whose multibyte characters never contain ASCII
//    bytes (UTF-8, LATIN*, WIN*, EUC_*, SQL_ASCII ...) that is the server's
//    structure exactly.
//  - The encodings whose multibyte characters may end in an ASCII byte
//    (SJIS, BIG5, GBK, UHC, GB18030, JOHAB) can swallow a backslash into the
//    character before it: then "\'" is no longer an escaped quote and a
//    string the classifier saw as one literal ends early. A statement where
//    a non-ASCII byte is followed by a backslash and then a quote or another
//    backslash is therefore never forwarded without a human (the only ASCII
//    bytes those encodings can swallow that change SQL's structure are
//    backslashes; quotes, dollars, dashes, slashes, stars and newlines are
//    never the second byte of a character in any of them).
#pragma once

#include <string>
#include <string_view>

namespace dualkey::pgproxy {

// Starts a statement that was read as Latin-1.
inline constexpr std::string_view kLatin1Marker =
    "/* dualkey: not UTF-8, each byte shown as Latin-1 */ ";

// The text to classify: `raw` itself (no copy) when it is valid UTF-8 and
// does not begin with the marker, else the marker and `raw` read as Latin-1,
// built in `storage`. Injective: two different statements never give one
// text (a statement that begins with the marker itself is re-read too).
std::string_view SqlForClassification(std::string_view raw, std::string* storage);

// True when the text was re-read (not UTF-8).
inline bool WasReread(std::string_view raw, std::string_view text) {
  return text.data() != raw.data();
}

// A non-ASCII byte right before a backslash that escapes a quote or a
// backslash: read differently under SJIS, BIG5, GBK, UHC, GB18030 and JOHAB.
bool HasEncodingDependentEscape(std::string_view raw);

}  // namespace dualkey::pgproxy
