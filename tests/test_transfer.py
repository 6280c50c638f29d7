"""The streaming transfer decoders (intake/mail/transfer.py): any chunking decodes to the whole."""

from __future__ import annotations

import base64
import quopri

import pytest

from intake.mail.transfer import (Base64Decoder, PlainDecoder, QuotedPrintableDecoder, decoder_for,
                                  estimated_size)

PAYLOAD = bytes(range(256)) * 3 + "保密法治代言人".encode("utf-8")


def decode(decoder_class, encoded: bytes, chunk: int) -> bytes:
    out: list[bytes] = []
    decoder = decoder_class(out.append)
    for start in range(0, len(encoded), chunk):
        decoder.feed(encoded[start:start + chunk])
    decoder.close()
    return b"".join(out)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 76, 77, 78, 4096])
def test_base64_in_mail_lines_decodes_whatever_the_chunks(chunk):
    encoded = base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n")   # 76 characters a line, CRLF
    assert decode(Base64Decoder, encoded, chunk) == PAYLOAD


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_base64_without_its_final_padding(chunk):
    encoded = base64.b64encode(b"abcde").rstrip(b"=")
    assert encoded == b"YWJjZGU"
    assert decode(Base64Decoder, encoded, chunk) == b"abcde"


@pytest.mark.parametrize("chunk", [1, 3, 4096])
def test_base64_parts_joined_with_padding_in_the_middle(chunk):
    joined = base64.b64encode(b"ab") + b"\r\n" + base64.b64encode(b"cde") + b"\r\n" + base64.b64encode(b"f")
    assert joined.count(b"=") == 3
    assert decode(Base64Decoder, joined, chunk) == b"abcdef"


def test_base64_skips_characters_outside_the_alphabet():
    assert decode(Base64Decoder, b"YW Jj\tZG\x00U=\r\n", 3) == b"abcde"


@pytest.mark.parametrize("chunk", [1, 4, 77, 78, 301, 4096])
@pytest.mark.parametrize("line", [75, 76, 78])
def test_base64_lines_of_any_length_with_stray_bytes_decode_as_one_cleaned_whole(line, chunk):
    """Lines whose length is no multiple of 4, stray bytes and a space inside: each chunk's whole lines
    are decoded in one pass when they hold whole groups, the rest the careful way; never anything else."""
    text = base64.b64encode(PAYLOAD * 4)
    encoded = b"\r\n".join(text[i:i + line] for i in range(0, len(text), line))
    encoded = encoded[:500] + b" \x00\t" + encoded[500:1000] + b"\r\n\r\n" + encoded[1000:] + b"\r\n"
    assert decode(Base64Decoder, encoded, chunk) == PAYLOAD * 4


def test_base64_empty_and_padding_only():
    assert decode(Base64Decoder, b"", 4) == b""
    assert decode(Base64Decoder, b"==\r\n", 1) == b""


@pytest.mark.parametrize("chunk", [1, 2, 3, 10, 75, 76, 77, 4096])
def test_quoted_printable_decodes_whatever_the_chunks(chunk):
    text = bytes(b for b in PAYLOAD if b not in b"\r\n")          # a line break in QP is a line break
    encoded = quopri.encodestring(text).replace(b"\n", b"\r\n")
    assert b"=\r\n" in encoded                                      # soft line breaks cross the chunks
    assert decode(QuotedPrintableDecoder, encoded, chunk) == text


def test_quoted_printable_soft_break_split_across_chunks():
    out: list[bytes] = []
    decoder = QuotedPrintableDecoder(out.append)
    decoder.feed(b"\xe4\xbf\x9d=E5=AF=")
    assert out == []                                               # no complete line yet
    decoder.feed(b"\r\n=86\r\nend")
    decoder.close()
    assert b"".join(out).decode("utf-8") == "保密\r\nend"


def test_plain_passes_bytes_through():
    assert decode(PlainDecoder, PAYLOAD, 100) == PAYLOAD


@pytest.mark.parametrize("name,kind", [("base64", Base64Decoder), ("BASE64", Base64Decoder),
                                       ("Quoted-Printable", QuotedPrintableDecoder), ("7bit", PlainDecoder),
                                       ("8bit", PlainDecoder), ("binary", PlainDecoder), (None, PlainDecoder),
                                       ("x-uuencode", PlainDecoder)])
def test_decoder_for_picks_by_name(name, kind):
    assert type(decoder_for(name, lambda b: None)) is kind


def test_estimated_size():
    line = base64.encodebytes(b"x" * 57).replace(b"\n", b"\r\n")
    assert len(line) == 78
    assert estimated_size(78 * 1000, "base64") == 57 * 1000
    assert estimated_size(78 * 1000, "Base64") == 57 * 1000
    assert estimated_size(1000, "quoted-printable") == 1000
    assert estimated_size(1000, None) == 1000
