//===----------------------------------------------------------------------===//
// Test support: ext_proc header messages as Envoy sends them (values in `raw_value`).
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation

extension Envoy_Service_ExtProc_V3_HttpHeaders {
  /// The headers `pairs`, in order, each value in `raw_value` as Envoy 1.40 fills it.
  init(_ pairs: [(String, String)]) {
    self.init()
    self.headers.headers = pairs.map { key, value in
      var header = Envoy_Config_Core_V3_HeaderValue()
      header.key = key
      header.rawValue = Data(value.utf8)
      return header
    }
  }
}
