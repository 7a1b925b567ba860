//===----------------------------------------------------------------------===//
// Augmenter — the `file` provider kind: header values read from files another agent keeps fresh.
//===----------------------------------------------------------------------===//

public import AugmenterCore
import Glibc

/// Reads each of a provider's `files`, trims it and places it in its `format`.
///
/// Changes are found by polling `stat(2)` every `watch_interval` (`sourceSignature`), not by
/// inotify: Kubernetes updates a ConfigMap, Secret or projected volume by writing a new
/// timestamped directory and swapping the `..data` symlink to it, and the files the pod names are
/// symlinks through `..data`. `stat` follows them, so the swap shows as a new inode; the same
/// one comparison also sees a file written in place, renamed over, or edited on a hostPath, with
/// no watch descriptors to re-arm after each swap and no thread blocked in `read`. A handful of
/// `stat` calls a second is nothing next to that robustness.
public struct FileProviderFetcher: ProviderFetcher {
  /// Creates the fetcher (it has no state: every read goes to the files).
  public init() {}

  public func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer {
    var headers: [(name: String, value: String)] = []
    var total = 0
    for file in provider.files {
      let content = try Self.readContent(of: file, limit: provider.maxAnswerBytes - total)
      total += content.utf8.count
      headers.append((file.name, file.value(of: Self.trimmed(content))))
    }
    return FetchedAnswer(status: 200, body: HeaderAnswerBody.json(headers))
  }

  /// Device, inode, size and modification time of every file, symlinks followed; a file that
  /// cannot be stat'ed contributes its errno, so its coming back is a change too.
  public func sourceSignature(_ provider: ProviderConfig) -> String? {
    var parts: [String] = []
    for file in provider.files {
      var info = stat()
      if stat(file.path, &info) != 0 {
        parts.append("errno \(errno)")
        continue
      }
      parts.append("\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)")
    }
    return parts.joined(separator: "|")
  }

  /// The file's text, at most `limit` bytes; errors name the key and the path, never content.
  static func readContent(of file: ProviderFile, limit: Int) throws -> String {
    let place = "files.\(file.name) (\(file.path))"
    let bytes = try BoundedFileRead.bytes(file.path, place: place, limit: limit, bound: "max_answer_bytes allows")
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw ProviderFetchError(description: "\(place) is not UTF-8 text")
    }
    return text
  }

  /// Without surrounding whitespace: tools write the final newline, editors add more.
  static func trimmed(_ text: String) -> String {
    var scalars = Substring(text).unicodeScalars
    while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
    while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
    return String(scalars)
  }
}
