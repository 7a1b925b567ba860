import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1Pipeline(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }

@main enum FuzzHTTP1PipelineMain {
  static func main() { runFuzzer(fuzzHTTP1Pipeline) }
}
