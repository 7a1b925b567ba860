import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProviderAnswer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }

@main enum FuzzProviderAnswerMain {
  static func main() { runFuzzer(fuzzProviderAnswer) }
}
