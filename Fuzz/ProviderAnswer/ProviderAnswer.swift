//===----------------------------------------------------------------------===//
// Augmenter fuzzing — the provider-answer reader (StrictJSONObject) and validator.
//===----------------------------------------------------------------------===//

import Foundation
import FuzzSupport

@testable import AugmenterCore

// Input: [status byte][limits byte][body...].
//
// Invariants:
// - an accepted answer holds only valid headers: names non-empty lower-case RFC 9110 tokens within
//   the limit, no pseudo-header, host, hop-by-hop or content-length, no two equal; values without
//   CR, LF, NUL or other controls (HTAB allowed), no leading or trailing SP/HTAB, within the limit;
//   at most maxHeaders of them, in the answer's order;
// - an answer is refused exactly when its status is not 200, its body is over the limit or not
//   UTF-8 or not a JSON object, or one member breaks a rule (never partly applied);
// - error messages never quote values: rewriting every string value into another of the same
//   shape (letters and digits rotated, everything else kept) gives the very same verdict text;
//   and a syntax error's text holds no byte of the body beyond the offset digits;
// - the reader agrees with Foundation's JSONSerialization on what every string member decodes to.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProviderAnswer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var input = FuzzInput(data, size)
  let all = input.bytes
  let statusByte = input.byte()
  let status = statusByte < 240 ? 200 : [0, 204, 301, 404, 500, 503, 999, -1][Int(statusByte & 7)]
  let limitsByte = input.byte()
  let limits: ProviderAnswerLimits =
    limitsByte < 200
    ? .default
    : ProviderAnswerLimits(
      maxBodyBytes: Int(limitsByte & 0x3F) * 4,
      maxHeaders: Int(limitsByte & 3),
      maxNameBytes: Int(limitsByte & 7) + 1,
      maxValueBytes: Int(limitsByte & 0xF)
    )
  let body = Array(input.rest())
  let answer = FetchedAnswer(status: status, body: body)
  let result = ProviderAnswerValidator.validate(answer, limits: limits)
  let parsed = String(validating: body, as: UTF8.self) != nil ? StrictJSONObject.parse(body) : nil

  switch result {
  case .success(let headers):
    fuzzCheck(status == 200 && body.count <= limits.maxBodyBytes, "accepted a status \(status) or an oversized body", input: all)
    guard case .success(let object)? = parsed else { fuzzFailure("accepted a body the reader refuses", input: all) }
    fuzzCheck(headers.count == object.members.count, "headers dropped or added", input: all)
    fuzzCheck(headers.count <= limits.maxHeaders, "more than maxHeaders", input: all)
    var seen = Set<String>()
    for (header, member) in zip(headers, object.members) {
      checkValidHeader(header, limits: limits, input: all)
      fuzzCheck(header.name == member.name.lowercased(), "header out of order or renamed", input: all)
      fuzzCheck(header.action == .set, "provider header is not a set", input: all)
      fuzzCheck(seen.insert(header.name).inserted, "duplicate name accepted", input: all)
      guard case .string(let raw) = member.value else { fuzzFailure("accepted a non-string value", input: all) }
      fuzzCheck(header.value == trimmedOWS(raw), "value changed beyond trimming", input: all)
    }
  case .failure(let error):
    fuzzCheck(!error.description.isEmpty && !error.reason.isEmpty, "empty error", input: all)
    if status == 200, body.count <= limits.maxBodyBytes, case .success(let object)? = parsed {
      // Refused a well-formed object: some member must break a rule, and the error names it.
      fuzzCheck(
        object.members.count > limits.maxHeaders || error.headerName != nil,
        "refused a readable object without naming a header: \(error)",
        input: all
      )
      if let name = error.headerName {
        fuzzCheck(object.members.contains { $0.name == name }, "error names a header the answer lacks", input: all)
      }
    }
    if case .failure(let parseError)? = parsed, status == 200, body.count <= limits.maxBodyBytes {
      checkQuotesNothing(parseError.message, input: all)
    }
  }

  // Same verdict text whatever the values say (only their shape matters).
  if case .success(let object)? = parsed {
    let generous = ProviderAnswerLimits(
      maxBodyBytes: Int.max,
      maxHeaders: limits.maxHeaders,
      maxNameBytes: limits.maxNameBytes,
      maxValueBytes: limits.maxValueBytes
    )
    let original = ProviderAnswerValidator.validate(
      FetchedAnswer(status: 200, body: serialize(object.members, rotating: false)), limits: generous)
    let rotated = ProviderAnswerValidator.validate(
      FetchedAnswer(status: 200, body: serialize(object.members, rotating: true)), limits: generous)
    switch (original, rotated) {
    case (.success(let a), .success(let b)):
      fuzzCheck(a.map(\.name) == b.map(\.name), "names depend on values", input: all)
      fuzzCheck(a.map { rotate($0.value) } == b.map(\.value), "values not carried through", input: all)
    case (.failure(let a), .failure(let b)):
      fuzzCheck(a.description == b.description, "error text depends on a value: \(a) vs \(b)", input: all)
    default:
      fuzzFailure("verdict depends on the letters of a value: \(original) vs \(rotated)", input: all)
    }
    compareWithFoundation(object, input: all)
  }
  return 0
}

private func checkValidHeader(_ header: HeaderField, limits: ProviderAnswerLimits, input: [UInt8]) {
  let name = Array(header.name.utf8)
  fuzzCheck(!name.isEmpty && name.count <= limits.maxNameBytes, "name length \(name.count)", input: input)
  fuzzCheck(name.allSatisfy(isLowerToken), "name is not a lower-case token: \(header.name.debugDescription)", input: input)
  let forbidden: Set = [
    "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
    "content-length",
  ]
  fuzzCheck(!forbidden.contains(header.name), "reserved name accepted: \(header.name)", input: input)
  let value = Array(header.value.utf8)
  fuzzCheck(value.count <= limits.maxValueBytes, "value over the limit", input: input)
  fuzzCheck(!value.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }, "value holds CR, LF, NUL or a control", input: input)
  fuzzCheck(value.first != 0x20 && value.first != 0x09 && value.last != 0x20 && value.last != 0x09, "value not trimmed", input: input)
}

private func isLowerToken(_ byte: UInt8) -> Bool {
  switch byte {
  case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
  default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
  }
}

private func trimmedOWS(_ value: String) -> String {
  var bytes = Array(value.utf8)[...]
  while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
  while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
  return String(decoding: bytes, as: UTF8.self)
}

/// A syntax error's message: the fixed words and the byte offset, nothing from the body.
private func checkQuotesNothing(_ message: String, input: [UInt8]) {
  let allowed = Set("abcdefghijklmnopqrstuvwxyzJSON0123456789 \\,()".utf8)
  fuzzCheck(
    message.utf8.allSatisfy { allowed.contains($0) }, "syntax error text quotes something: \(message.debugDescription)", input: input)
}

/// Letters rotated by 13 and digits by 5: same length, same classes (controls, spaces, non-ASCII kept).
private func rotate(_ text: String) -> String {
  String(
    decoding: text.utf8.map { byte -> UInt8 in
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"): (byte - UInt8(ascii: "a") + 13) % 26 + UInt8(ascii: "a")
      case UInt8(ascii: "A")...UInt8(ascii: "Z"): (byte - UInt8(ascii: "A") + 13) % 26 + UInt8(ascii: "A")
      case UInt8(ascii: "0")...UInt8(ascii: "9"): (byte - UInt8(ascii: "0") + 5) % 10 + UInt8(ascii: "0")
      default: byte
      }
    },
    as: UTF8.self
  )
}

/// The members as a JSON object (string values optionally rotated; other values as their kind).
private func serialize(_ members: [(name: String, value: StrictJSONObject.Value)], rotating: Bool) -> [UInt8] {
  var out: [UInt8] = [UInt8(ascii: "{")]
  for (index, member) in members.enumerated() {
    if index > 0 { out.append(UInt8(ascii: ",")) }
    appendJSONString(member.name, to: &out)
    out.append(UInt8(ascii: ":"))
    switch member.value {
    case .string(let value): appendJSONString(rotating ? rotate(value) : value, to: &out)
    case .other(let kind):
      let literal: String
      switch kind {
      case "an array": literal = "[]"
      case "an object": literal = "{}"
      case "a boolean": literal = "true"
      case "null": literal = "null"
      default: literal = "1"
      }
      out += literal.utf8
    }
  }
  out.append(UInt8(ascii: "}"))
  return out
}

private func appendJSONString(_ text: String, to out: inout [UInt8]) {
  let hex = Array("0123456789abcdef".utf8)
  out.append(UInt8(ascii: "\""))
  for byte in text.utf8 {
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"):
      out += [UInt8(ascii: "\\"), byte]
    case 0..<0x20:
      out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
    default:
      out.append(byte)
    }
  }
  out.append(UInt8(ascii: "\""))
}

/// Foundation's reader must decode every string member of an all-string, duplicate-free object
/// to the same value.
private func compareWithFoundation(_ object: StrictJSONObject, input: [UInt8]) {
  var expected: [String: String] = [:]
  for member in object.members {
    guard case .string(let value) = member.value, expected.updateValue(value, forKey: member.name) == nil else { return }
  }
  let body = Data(input.dropFirst(2))
  guard let decoded = try? JSONSerialization.jsonObject(with: body) as? [String: String] else {
    fuzzFailure("Foundation refuses an object the strict reader accepts", input: input)
  }
  fuzzCheck(decoded == expected, "Foundation decodes the strings differently", input: input)
}

@main enum FuzzProviderAnswerMain {
  static func main() { runFuzzer(fuzzProviderAnswer) }
}
