// How long a JSON-map endpoint says its answer stays good, from the HTTP caching headers of
// its response (RFC 9111 §4.2.1): `Cache-Control: max-age` first, else `Expires` - `Date`.

public import Foundation

/// Reads a freshness lifetime from `Cache-Control` and `Expires`.
///
/// Only a positive lifetime is information. `no-store`, `no-cache`, `max-age=0` and an `Expires`
/// in the past are defaults of many web frameworks and say how a browser should cache a page,
/// not when the headers stop working: read as "no lifetime", they leave `ttl` in charge instead
/// of making every answer useless at once.
public enum HTTPCacheLifetime {
  /// The lifetime the response headers give, or `nil`.
  ///
  /// - Parameters:
  ///   - cacheControl: the `Cache-Control` field value(s), comma-joined.
  ///   - expires: the `Expires` field value.
  ///   - date: the `Date` field value; `Expires` is measured from it (RFC 9111 §4.2.1), else from `now`.
  ///   - now: the local wall clock.
  public static func lifetime(cacheControl: String?, expires: String?, date: String?, now: Date) -> Duration? {
    if let cacheControl {
      for directive in cacheControl.split(separator: ",") {
        let parts = directive.split(separator: "=", maxSplits: 1)
        guard parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "max-age" else { continue }
        // RFC 9111 §1.2.2: delta-seconds, digits only; the quoted form is tolerated (§5.2).
        guard parts.count == 2 else { return nil }
        let text = parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        // Past 2^31 seconds RFC 9111 says to use 2^31: longer than any ttl anyway.
        let seconds = Int64(text.prefix(10)) ?? Int64(Int32.max)
        return seconds > 0 ? .seconds(min(seconds, Int64(Int32.max))) : nil
      }
    }
    guard let expires, let expiresAt = httpDate(expires) else { return nil }
    let origin = date.flatMap(httpDate) ?? now
    let seconds = expiresAt.timeIntervalSince(origin)
    return seconds > 0 ? .milliseconds(Int64((seconds * 1000).rounded(.down))) : nil
  }

  /// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form senders may generate
  /// (RFC 9110 §5.6.7); the obsolete forms are no information.
  static func httpDate(_ text: String) -> Date? {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter.date(from: text.trimmingCharacters(in: .whitespaces))
  }
}
