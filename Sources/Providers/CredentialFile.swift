//===----------------------------------------------------------------------===//
// Augmenter — reading a one-line credential from a file (a client secret, a subject token).
//===----------------------------------------------------------------------===//

import Foundation

/// A secret another agent keeps in a file (a Kubernetes Secret, a projected service-account
/// token): read on every fetch, so a rotated one is used from the next refresh on.
enum CredentialFile {
  /// The largest credential file read (a service-account token is a few KiB).
  static let maxBytes = 64 << 10

  /// The file's content, trimmed of surrounding whitespace; it must be one non-empty line.
  ///
  /// Errors name the configuration key and the file, never the content: they go to logs and
  /// `/status`.
  static func read(_ path: String, key: String) throws -> String {
    let bytes = try BoundedFileRead.bytes(path, place: "\(key) \(path)", limit: Self.maxBytes)
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw ProviderFetchError(description: "\(key) \(path) is not UTF-8 text")
    }
    let content = text.trimmingCharacters(in: .whitespacesAndNewlines)
    // A second line would end up in a form parameter or a header; refused rather than guessed at.
    guard !content.isEmpty, !content.contains(where: { $0 == "\r" || $0 == "\n" }) else {
      throw ProviderFetchError(description: "\(key) \(path) is empty or holds more than one line")
    }
    return content
  }
}
