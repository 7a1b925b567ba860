import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckRequestScanner(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }

@main enum FuzzCheckRequestScannerMain {
  static func main() { runFuzzer(fuzzCheckRequestScanner) }
}
