// Durations as people write them in configuration: `250ms`, `30s`, `6m`, `1h`, `1m30s`.

/// Parsing and printing of configuration durations.
enum DurationText {
  /// Nanoseconds per unit, longest suffix first so `ms` is not read as `m` followed by `s`.
  private static let units: [(suffix: String, nanoseconds: Int64)] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
  ]

  /// The example list used in every duration message, so users see the same hint everywhere.
  static let expectation = "expected a duration like 250ms, 30s, 6m"

  /// Parses `text` into a duration, or explains what is wrong with it.
  ///
  /// Each component is a non-negative decimal number (a fraction is allowed, `1.5s`) followed by
  /// a unit (`ns`, `us`, `ms`, `s`, `m`, `h`); components add up (`1h30m`). A number without a
  /// unit is refused rather than guessed: `30` could mean seconds or milliseconds.
  static func parse(_ text: String) -> Result<Duration, DurationTextError> {
    let trimmed = text.trimmingSpaces()
    if trimmed.isEmpty { return .failure(DurationTextError("\(expectation), got an empty value")) }
    // A plain zero needs no unit: it means the same in all of them (`max_stale: 0`).
    if trimmed == "0" { return .success(.zero) }
    if trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
      return .failure(
        DurationTextError(
          "\(expectation); a bare number is ambiguous, add a unit (\(trimmed)s or \(trimmed)ms)"))
    }
    if trimmed.hasPrefix("-") {
      return .failure(DurationTextError("\(expectation); negative durations are not allowed"))
    }
    var total: Int64 = 0
    var rest = Substring(trimmed)
    while !rest.isEmpty {
      let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
      guard !number.isEmpty else {
        return .failure(DurationTextError("\(expectation), got \"\(trimmed)\""))
      }
      rest = rest.dropFirst(number.count)
      guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else {
        return .failure(DurationTextError("\(expectation), got \"\(trimmed)\" (unknown or missing unit)"))
      }
      rest = rest.dropFirst(unit.suffix.count)
      guard isDecimal(number) else {
        return .failure(DurationTextError("\(expectation), got \"\(trimmed)\""))
      }
      guard let nanoseconds = scale(number, by: unit.nanoseconds) else {
        return .failure(DurationTextError("duration \"\(trimmed)\" is too long"))
      }
      let (sum, overflow) = total.addingReportingOverflow(nanoseconds)
      if overflow { return .failure(DurationTextError("duration \"\(trimmed)\" is too long")) }
      total = sum
    }
    return .success(.nanoseconds(total))
  }

  /// Whether `number` is digits, optionally followed by `.` and more digits.
  private static func isDecimal(_ number: Substring) -> Bool {
    let parts = number.split(separator: ".", omittingEmptySubsequences: false)
    return (parts.count == 1 || parts.count == 2) && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
  }

  /// `number` (digits with at most one `.`) times `unit` nanoseconds, exactly: the fraction is
  /// handled digit by digit so `0.1s` is 100ms, not 99.999ms.
  private static func scale(_ number: Substring, by unit: Int64) -> Int64? {
    let parts = number.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, let whole = parts.first, !whole.isEmpty || parts.count == 2 else { return nil }
    if parts.count == 2 && parts[1].isEmpty { return nil }
    var value: Int64 = 0
    for digit in whole {
      guard let d = digit.wholeNumberValue else { return nil }
      let (times10, o1) = value.multipliedReportingOverflow(by: 10)
      let (next, o2) = times10.addingReportingOverflow(Int64(d))
      if o1 || o2 { return nil }
      value = next
    }
    let (scaled, overflow) = value.multipliedReportingOverflow(by: unit)
    if overflow { return nil }
    guard parts.count == 2 else { return scaled }
    var fraction: Int64 = 0
    var place = unit
    for digit in parts[1] {
      guard let d = digit.wholeNumberValue else { return nil }
      place /= 10
      fraction += Int64(d) * place
    }
    let (sum, overflow2) = scaled.addingReportingOverflow(fraction)
    return overflow2 ? nil : sum
  }

  /// Prints a duration the way it would be written in a file: `2s`, `250ms`, `1m30s`, `0s`.
  static func format(_ duration: Duration) -> String {
    var nanoseconds = duration.clampedNanoseconds
    if nanoseconds == 0 { return "0s" }
    var out = nanoseconds < 0 ? "-" : ""
    nanoseconds = nanoseconds.magnitude > UInt64(Int64.max) ? .max : Int64(nanoseconds.magnitude)
    // Below a second, use the single largest unit that divides evenly; above, h/m/s components
    // plus any sub-second remainder in ms (or ns when it is not a whole number of ms).
    for (suffix, size) in [("h", Int64(3_600_000_000_000)), ("m", 60_000_000_000), ("s", 1_000_000_000)] {
      if nanoseconds >= size {
        out += "\(nanoseconds / size)\(suffix)"
        nanoseconds %= size
      }
    }
    if nanoseconds > 0 {
      if nanoseconds % 1_000_000 == 0 {
        out += "\(nanoseconds / 1_000_000)ms"
      } else if nanoseconds % 1_000 == 0 {
        out += "\(nanoseconds / 1_000)us"
      } else {
        out += "\(nanoseconds)ns"
      }
    }
    return out
  }
}

/// Why a duration could not be parsed (the message is complete, ready for a `ConfigProblem`).
struct DurationTextError: Error, Equatable {
  var message: String
  init(_ message: String) { self.message = message }
}

extension String {
  /// The string without leading and trailing spaces and tabs.
  func trimmingSpaces() -> String {
    HeaderRules.trimmed(self)
  }
}
