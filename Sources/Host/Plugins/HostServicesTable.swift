import Dispatch
import Logging
import PluginABI
import ServerSupport
import Synchronization
import Tracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state of one tool call, behind the opaque `tb_call_context` pointer a plugin passes back
/// to host services. It lives exactly as long as the call (see `ToolRunner.call`).
final class CallContext: Sendable {
    let identity: CallIdentity
    let plugin: String
    let proxy: RESTProxy
    let logger: Logger
    /// Unix milliseconds, 0 for none: what `deadline_ms` answers.
    let deadlineMs: Int64
    let deadline: ContinuousClock.Instant?
    /// The plugin span's trace context: the parent of the call's API requests, and what its log
    /// lines name (pool threads have no task, so it is passed, not inherited).
    let trace: InstrumentationContext
    let isCancelled = Atomic<Bool>(false)
    /// The HTTP status of the API's last answer to this call, 0 before any: the audit trail's `api_status`.
    private let lastStatus = Atomic<Int>(0)
    /// The API requests of this call still running. See `blockingSend`.
    private let requests = RunningRequests()

    init(
        identity: CallIdentity, plugin: String, proxy: RESTProxy, logger: Logger, timeout: Duration?,
        trace: InstrumentationContext
    ) {
        self.identity = identity
        self.trace = trace
        self.plugin = plugin
        self.proxy = proxy
        self.logger = logger
        deadline = timeout.map { ContinuousClock.now + $0 }
        deadlineMs = timeout.map {
            Timestamp.nowMilliseconds() + $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000
        } ?? 0
    }

    /// The call ended: a request its plugin stopped waiting for (its deadline passed) is not
    /// left running for nobody.
    deinit {
        requests.cancelAll()
    }

    func cancel() {
        isCancelled.store(true, ordering: .relaxed)
        requests.cancelAll()
    }

    /// Runs a proxy request for a plugin thread that must block until it ends (the ABI's
    /// `api_request` is synchronous; the plugin thread is one of the runner's pool threads, never
    /// a cooperative one, so blocking it starves nothing).
    ///
    /// The request runs in a task this context owns: it is registered under a number until it
    /// ends, cancelled when the call is cancelled, when the call's deadline passes (the plugin
    /// gets `TB_DEADLINE_EXCEEDED` at once and the task stops at its next suspension), and when
    /// the call ends; the proxy's request timeout bounds it in any case. The task does not
    /// capture the context, so the context's end is the call's end.
    func blockingSend(_ request: ProxyRequest) -> Result<ProxyResponse, ProxyError> {
        if isCancelled.load(ordering: .relaxed) {
            return .failure(ProxyError(kind: .unavailable, description: "cancelled"))
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<ProxyResponse, ProxyError>?>(nil)
        let number = requests.number()
        let task = Task { [proxy, identity, requests, trace] in
            let result: Result<ProxyResponse, ProxyError> = await InstrumentationContext.$current.withValue(trace) {
                do throws(ProxyError) {
                    return .success(try await proxy.send(request, as: identity))
                } catch {
                    return .failure(error)
                }
            }
            outcome.withLock { $0 = result }
            requests.remove(number)
            done.signal()
        }
        requests.add(task, number: number, unless: { outcome.withLock { $0 } != nil })
        if let deadline {
            let remaining = ContinuousClock.now.duration(to: deadline)
            let nanoseconds = max(0, remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000)
            if done.wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .timedOut {
                task.cancel()
                return .failure(ProxyError(kind: .timedOut, description: "the call's deadline passed"))
            }
        } else {
            done.wait()
        }
        return outcome.withLock { $0 } ?? .failure(ProxyError(kind: .unavailable, description: "no response"))
    }

    /// The HTTP status of the API's last answer to this call, nil when it made no request or got no answer.
    var lastAPIStatus: Int? {
        let status = lastStatus.load(ordering: .relaxed)
        return status == 0 ? nil : status
    }

    func noteAPIStatus(_ status: Int) {
        lastStatus.store(status, ordering: .relaxed)
    }

    func toOpaque() -> OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ pointer: OpaquePointer) -> CallContext {
        Unmanaged<CallContext>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }
}

/// The API requests of one call still running, by number, so the call can cancel them.
private final class RunningRequests: Sendable {
    private let state = Mutex<(next: UInt64, running: [UInt64: Task<Void, Never>])>((0, [:]))

    func number() -> UInt64 {
        state.withLock { state in
            state.next += 1
            return state.next
        }
    }

    /// Registers a running request, unless it already `ended` (it has then removed itself).
    func add(_ task: Task<Void, Never>, number: UInt64, unless ended: () -> Bool) {
        state.withLock { state in
            if !ended() { state.running[number] = task }
        }
    }

    func remove(_ number: UInt64) {
        _ = state.withLock { $0.running.removeValue(forKey: number) }
    }

    func cancelAll() {
        for task in state.withLock({ $0.running.values }) { task.cancel() }
    }
}

/// The `tb_host_services` table every plugin receives: one static table for all of them; the
/// call context pointer tells the functions whose call it is.
enum HostServicesTable {
    static let logger = Logger(label: "toolbridge.plugins")

    nonisolated(unsafe) static let pointer: UnsafePointer<tb_host_services> = {
        // Written once here, read-only afterwards: what makes sharing it unsafely sound.
        let table = UnsafeMutablePointer<tb_host_services>.allocate(capacity: 1)
        var services = tb_host_services()
        services.struct_size = UInt32(MemoryLayout<tb_host_services>.size)
        services.abi_minor = UInt32(TOOLBRIDGE_ABI_MINOR)
        services.api_request = apiRequest
        services.free = { pointer in free(pointer) }
        services.log = log
        services.is_cancelled = { context in
            guard let context else { return 0 }
            return CallContext.from(context).isCancelled.load(ordering: .relaxed) ? 1 : 0
        }
        services.deadline_ms = { context in
            guard let context else { return 0 }
            return CallContext.from(context).deadlineMs
        }
        services.context_value = contextValue
        services.get_extension = { _ in nil }
        table.initialize(to: services)
        return UnsafePointer(table)
    }()

    /// Host-allocated copies the plugin frees with `services->free`.
    static func allocate(_ bytes: [UInt8]) -> UnsafeMutablePointer<UInt8> {
        let buffer = malloc(max(bytes.count, 1))!.assumingMemoryBound(to: UInt8.self)
        bytes.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { buffer.update(from: base, count: bytes.count) }
        }
        return buffer
    }

    private static let apiRequest:
        @convention(c) (OpaquePointer?, UnsafePointer<tb_api_request>?, UnsafeMutablePointer<tb_api_response>?) -> Int32 =
        { context, request, response in
            // Both structs may be larger than this host's (a plugin built for a later minor) but
            // never smaller than ABI 1.0's: every field read or written here is a 1.0 field.
            guard let context, let request, let response,
                response.pointee.struct_size >= TB_API_RESPONSE_SIZE_V1_0
            else { return TB_INVALID_ARGUMENT }
            // Fill no more of the response than both sides know, and say how much was filled.
            response.pointee.struct_size = min(response.pointee.struct_size, UInt32(MemoryLayout<tb_api_response>.size))
            response.pointee.body = nil
            response.pointee.body_length = 0
            let call = CallContext.from(context)
            guard request.pointee.struct_size >= TB_API_REQUEST_SIZE_V1_0,
                let method = request.pointee.method, let path = request.pointee.path
            else { return TB_INVALID_ARGUMENT }
            let pathText = String(
                decoding: UnsafeRawBufferPointer(start: path, count: request.pointee.path_length), as: UTF8.self)
            var body: [UInt8]?
            if let bytes = request.pointee.body, request.pointee.body_length > 0 {
                body = Array(UnsafeBufferPointer(start: bytes, count: request.pointee.body_length))
            }
            let ifMatch = request.pointee.if_match.map { String(cString: $0) }
            let outgoing = ProxyRequest(method: String(cString: method), path: pathText, body: body, ifMatch: ifMatch)

            switch call.blockingSend(outgoing) {
            case .success(let answer):
                call.noteAPIStatus(answer.status)
                response.pointee.http_status = Int32(answer.status)
                response.pointee.body = allocate(answer.body)
                response.pointee.body_length = answer.body.count
                return TB_OK
            case .failure(let error):
                if call.isCancelled.load(ordering: .relaxed) { return TB_CANCELLED }
                call.logger.warning(
                    "API request failed",
                    metadata: ["plugin": "\(call.plugin)", "correlation_id": "\(call.identity.correlationID)",
                               "reason": "\(error.description)"])
                switch error.kind {
                case .timedOut: return TB_DEADLINE_EXCEEDED
                case .invalidRequest: return TB_INVALID_ARGUMENT
                case .unavailable: return TB_UNAVAILABLE
                }
            }
        }

    private static let log: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, Int) -> Void = {
        context, level, message, length in
        guard let message else { return }
        let text = String(decoding: UnsafeRawBufferPointer(start: message, count: length), as: UTF8.self)
        var metadata: Logger.Metadata = [:]
        if let context {
            let call = CallContext.from(context)
            metadata["plugin"] = "\(call.plugin)"
            metadata["correlation_id"] = "\(call.identity.correlationID)"
        }
        let levels: [Logger.Level] = [.debug, .info, .warning, .error]
        logger.log(level: levels[Int(min(max(level, 0), 3))], "\(text)", metadata: metadata)
    }

    private static let contextValue:
        @convention(c) (
            OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
            UnsafeMutablePointer<Int>?
        ) -> Int32 = { context, key, value, length in
            guard let context, let key, let value, let length else { return TB_INVALID_ARGUMENT }
            let identity = CallContext.from(context).identity
            let text: String
            switch String(cString: key) {
            case "user": text = identity.user
            case "tenant": text = identity.tenant
            case "correlation_id": text = identity.correlationID
            default: return TB_UNIMPLEMENTED
            }
            value.pointee = allocate(Array(text.utf8))
            length.pointee = text.utf8.count
            return TB_OK
        }
}
