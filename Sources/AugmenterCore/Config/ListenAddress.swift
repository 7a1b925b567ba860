// Listen addresses are written `host:port`; IPv6 hosts go in brackets as in URLs.

/// A `host:port` to bind, parsed from `0.0.0.0:9191`, `[::1]:9191` or `localhost:0`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible {
  /// The host name or address, without brackets (`::1`, not `[::1]`).
  public var host: String
  /// The port, 0 ... 65535; 0 asks the system for a free port.
  public var port: Int

  /// Creates an address from its parts, unchecked.
  public init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  /// Parses `host:port` (IPv6 in brackets), or returns `nil`; see `parse(_:)` for the reason.
  public init?(_ description: String) {
    guard case .success(let address) = Self.parse(description) else { return nil }
    self = address
  }

  /// The address as written in configuration, with an IPv6 host in brackets.
  public var description: String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
  }

  /// Parses `host:port`, explaining what is wrong when it fails.
  static func parse(_ text: String) -> Result<ListenAddress, ListenAddressError> {
    let expectation = "expected host:port like 0.0.0.0:9191 or [::1]:9191"
    let text = text.trimmingSpaces()
    let host: Substring
    let portText: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]") else {
        return .failure(.init("\(expectation): missing ] after the IPv6 address"))
      }
      host = text[text.index(after: text.startIndex)..<close]
      let afterBracket = text[text.index(after: close)...]
      guard afterBracket.hasPrefix(":") else {
        return .failure(.init("\(expectation): missing :port after ]"))
      }
      portText = afterBracket.dropFirst()
      guard !host.isEmpty, host.contains(":"),
        host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." || $0 == "%" || $0.isLetter || $0.isNumber })
      else {
        return .failure(.init("\(expectation): \"[\(host)]\" is not an IPv6 address"))
      }
    } else {
      guard let colon = text.lastIndex(of: ":") else {
        return .failure(.init("\(expectation): missing :port"))
      }
      host = text[..<colon]
      portText = text[text.index(after: colon)...]
      if host.contains(":") {
        return .failure(.init("\(expectation): put an IPv6 address in brackets"))
      }
      if host.isEmpty {
        return .failure(.init("\(expectation): the host is missing (use 0.0.0.0 for every address)"))
      }
      // Host names and IPv4 literals: letters, digits, dots, hyphens (underscores are common in
      // container names, so accepted too).
      guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") })
      else {
        return .failure(.init("\(expectation): \"\(host)\" is not a host name or address"))
      }
    }
    guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
      let port = Int(portText), port <= 65535
    else {
      return .failure(.init("\(expectation): port must be a number from 0 to 65535"))
    }
    return .success(ListenAddress(host: String(host), port: port))
  }
}

/// Why a listen address could not be parsed.
struct ListenAddressError: Error, Equatable {
  var message: String
  init(_ message: String) { self.message = message }
}
