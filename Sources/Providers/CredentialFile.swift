//===----------------------------------------------------------------------===//
// Augmenter — reading a one-line credential from a file (a client secret, a subject token).
//===----------------------------------------------------------------------===//

import Foundation

/// A secret another agent keeps in a file (a Kubernetes Secret, a projected service-account
/// token): read on every fetch, so a rotated one is used from the next refresh on.
enum CredentialFile {
  /// The file's content, trimmed of surrounding whitespace; it must be one non-empty line.
  ///
  /// Errors name the configuration key and the file, never the content: they go to logs and
  /// `/status`.
  static func read(_ path: String, key: String) throws -> String {
    let content: String
    do {
      content = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    } catch {
      throw ProviderFetchError(description: "cannot read \(key) \(path): \(error.localizedDescription)")
    }
    // A second line would end up in a form parameter or a header; refused rather than guessed at.
    guard !content.isEmpty, !content.contains(where: { $0 == "\r" || $0 == "\n" }) else {
      throw ProviderFetchError(description: "\(key) \(path) is empty or holds more than one line")
    }
    return content
  }
}
