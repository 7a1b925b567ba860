import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTemplate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }

@main enum FuzzTemplateMain {
  static func main() { runFuzzer(fuzzTemplate) }
}
