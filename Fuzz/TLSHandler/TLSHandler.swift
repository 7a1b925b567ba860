import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTLSHandler(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }

@main enum FuzzTLSHandlerMain {
  static func main() { runFuzzer(fuzzTLSHandler) }
}
