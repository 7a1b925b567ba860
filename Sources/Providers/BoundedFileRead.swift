//===----------------------------------------------------------------------===//
// Augmenter — reading a small file another agent keeps, without ever blocking on it.
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
  import Glibc
#endif

/// Reads the files providers depend on (secrets, tokens, keys, header files) on every fetch.
///
/// The path must name a regular file: it is opened non-blocking and checked with `fstat`
/// before any read, so a FIFO or a device swapped in at runtime is refused at once instead of
/// blocking the refresher's thread forever. At most `limit` bytes are read. Errors name the
/// place (the configuration key and the path) and never the content.
enum BoundedFileRead {
  /// The file's bytes.
  /// - Parameter bound: how an over-long file's error names the limit (default: the count).
  /// - Throws: `ProviderFetchError` naming `place` when it cannot be opened or read, is not a
  ///   regular file, or holds more than `limit` bytes.
  static func bytes(_ path: String, place: String, limit: Int, bound: String? = nil) throws -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else {
      throw ProviderFetchError(description: "cannot read \(place): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
      throw ProviderFetchError(description: "cannot read \(place): \(String(cString: strerror(errno)))")
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
      throw ProviderFetchError(description: "cannot read \(place): not a regular file")
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw ProviderFetchError(description: "cannot read \(place): \(String(cString: strerror(errno)))")
      }
      if count == 0 { return bytes }
      bytes.append(contentsOf: chunk[0..<count])
      guard bytes.count <= limit else {
        throw ProviderFetchError(description: "\(place) is larger than \(bound ?? "\(limit) bytes")")
      }
    }
  }
}
