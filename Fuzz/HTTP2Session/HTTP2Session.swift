import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP2Session(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }

@main enum FuzzHTTP2SessionMain {
  static func main() { runFuzzer(fuzzHTTP2Session) }
}
