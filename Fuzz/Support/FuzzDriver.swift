//===----------------------------------------------------------------------===//
// Augmenter fuzzing — the executable's entry point hands over to libFuzzer's driver.
//===----------------------------------------------------------------------===//

import CFuzzDriver

#if canImport(Glibc)
  import Glibc
#endif

/// Runs libFuzzer (its usual flags and corpus arguments) with `callback` as the target.
///
/// SwiftPM links an executable target's own `main` (it aliases `main` to the module's entry
/// point), so libFuzzer's `main` is never used: each target's `@main` calls this instead.
/// `callback` is the target's `@_cdecl("LLVMFuzzerTestOneInput")` function.
public func runFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
  var argc = CommandLine.argc
  var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
  exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}
