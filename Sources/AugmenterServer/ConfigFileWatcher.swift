//===----------------------------------------------------------------------===//
// Augmenter — noticing a change of the configuration file, Kubernetes ConfigMap symlink swaps included.
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Polls the configuration file and calls `changed` once it changed and has stayed the same for
/// one more interval (an editor or a copy may write it in several steps).
///
/// What is compared is the file the path resolves to now: its resolved path (`realpath`), and
/// the device, inode, size and modification time `stat` reports through every symlink. A
/// Kubernetes ConfigMap volume updates by pointing its `..data` symlink at a new directory: the
/// path the service was given stays the same, its resolution changes, and that is seen here.
/// Editors that replace the file by renaming a new one over it change the inode; in-place writes
/// change size or modification time. A missing file is a state like any other (a reload then
/// reports that it cannot be read).
///
/// Polling (rather than inotify) sees a symlink swap in any directory on the path, works on any
/// file system, and costs one `stat` and one `realpath` per interval.
struct ConfigFileWatcher: Sendable {
  /// What identifies the file's content without reading it.
  struct Signature: Sendable, Equatable {
    var resolvedPath: String?
    var device: UInt64 = 0
    var inode: UInt64 = 0
    var size: Int64 = 0
    var modifiedSeconds: Int = 0
    var modifiedNanoseconds: Int = 0
  }

  var path: String
  var interval: Duration

  /// The signature of `path` now.
  static func signature(of path: String) -> Signature {
    var signature = Signature()
    if let resolved = realpath(path, nil) {
      signature.resolvedPath = String(cString: resolved)
      free(resolved)
    }
    var info = stat()
    guard stat(path, &info) == 0 else { return signature }
    signature.device = UInt64(info.st_dev)
    signature.inode = UInt64(info.st_ino)
    signature.size = Int64(info.st_size)
    #if canImport(Darwin)
      signature.modifiedSeconds = Int(info.st_mtimespec.tv_sec)
      signature.modifiedNanoseconds = Int(info.st_mtimespec.tv_nsec)
    #else
      signature.modifiedSeconds = Int(info.st_mtim.tv_sec)
      signature.modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
    #endif
    return signature
  }

  /// Watches until cancelled, calling `changed` for each settled change.
  func run(changed: @Sendable () -> Void) async {
    var applied = Self.signature(of: self.path)
    var previous = applied
    while !Task.isCancelled {
      do {
        try await Task.sleep(for: self.interval)
      } catch {
        return
      }
      let current = Self.signature(of: self.path)
      defer { previous = current }
      // Settled: different from what was last reloaded, and the same as one interval ago.
      if current != applied && current == previous {
        applied = current
        changed()
      }
    }
  }
}
