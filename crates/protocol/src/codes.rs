//! LeanCloud error and close codes (§2.4, §6.9).

/// A LeanCloud error code. Used both as a WebSocket close code and as the `code`
/// of error frames and error acks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    AppNotAvailable = 4100,
    SignatureFailed = 4102,
    InvalidLogin = 4103,
    SessionRequired = 4105,
    ReadTimeout = 4107,
    LoginTimeout = 4108,
    FrameTooLong = 4109,
    InvalidOrigin = 4110,
    SessionConflict = 4111,
    /// Too many sessions or requests from one client (leanrt's own limits, [I]).
    TooManyRequests = 4112,
    KickedByApp = 4115,
    /// The server is at its connection limit (leanrt's own code, [I]).
    ServerBusy = 4116,
    /// The consumer did not read fast enough and its outbound queue filled ([I]).
    SlowConsumer = 4117,
    InternalError = 4200,
    ConversationApiFailed = 4301,
    ConversationSignatureFailed = 4302,
    ConversationNotFound = 4303,
    ConversationFull = 4304,
    ConversationRejectedByApp = 4305,
    ConversationUpdateFailed = 4306,
    ConversationReadOnly = 4307,
    ConversationNotAllowed = 4308,
    ConversationUpdateRejected = 4309,
    ConversationQueryFailed = 4310,
    ConversationLogFailed = 4311,
    ConversationLogRejected = 4312,
    InvalidMessagingTarget = 4401,
    MessageRejectedByApp = 4402,
}

impl ErrorCode {
    /// Every code, for lookups and tests.
    pub const ALL: [ErrorCode; 28] = [
        Self::AppNotAvailable,
        Self::SignatureFailed,
        Self::InvalidLogin,
        Self::SessionRequired,
        Self::ReadTimeout,
        Self::LoginTimeout,
        Self::FrameTooLong,
        Self::InvalidOrigin,
        Self::SessionConflict,
        Self::TooManyRequests,
        Self::KickedByApp,
        Self::ServerBusy,
        Self::SlowConsumer,
        Self::InternalError,
        Self::ConversationApiFailed,
        Self::ConversationSignatureFailed,
        Self::ConversationNotFound,
        Self::ConversationFull,
        Self::ConversationRejectedByApp,
        Self::ConversationUpdateFailed,
        Self::ConversationReadOnly,
        Self::ConversationNotAllowed,
        Self::ConversationUpdateRejected,
        Self::ConversationQueryFailed,
        Self::ConversationLogFailed,
        Self::ConversationLogRejected,
        Self::InvalidMessagingTarget,
        Self::MessageRejectedByApp,
    ];

    /// The numeric code sent on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The `reason` string sent beside the code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::AppNotAvailable => "APP_NOT_AVAILABLE",
            Self::SignatureFailed => "SIGNATURE_FAILED",
            Self::InvalidLogin => "INVALID_LOGIN",
            Self::SessionRequired => "SESSION_REQUIRED",
            Self::ReadTimeout => "READ_TIMEOUT",
            Self::LoginTimeout => "LOGIN_TIMEOUT",
            Self::FrameTooLong => "FRAME_TOO_LONG",
            Self::InvalidOrigin => "INVALID_ORIGIN",
            Self::SessionConflict => "SESSION_CONFLICT",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::KickedByApp => "KICKED_BY_APP",
            Self::ServerBusy => "SERVER_BUSY",
            Self::SlowConsumer => "SLOW_CONSUMER",
            Self::InternalError => "INTERNAL_ERROR",
            Self::ConversationApiFailed => "CONVERSATION_API_FAILED",
            Self::ConversationSignatureFailed => "CONVERSATION_SIGNATURE_FAILED",
            Self::ConversationNotFound => "CONVERSATION_NOT_FOUND",
            Self::ConversationFull => "CONVERSATION_FULL",
            Self::ConversationRejectedByApp => "CONVERSATION_REJECTED_BY_APP",
            Self::ConversationUpdateFailed => "CONVERSATION_UPDATE_FAILED",
            Self::ConversationReadOnly => "CONVERSATION_READ_ONLY",
            Self::ConversationNotAllowed => "CONVERSATION_NOT_ALLOWED",
            Self::ConversationUpdateRejected => "CONVERSATION_UPDATE_REJECTED",
            Self::ConversationQueryFailed => "CONVERSATION_QUERY_FAILED",
            Self::ConversationLogFailed => "CONVERSATION_LOG_FAILED",
            Self::ConversationLogRejected => "CONVERSATION_LOG_REJECTED",
            Self::InvalidMessagingTarget => "INVALID_MESSAGING_TARGET",
            Self::MessageRejectedByApp => "MESSAGE_REJECTED_BY_APP",
        }
    }

    /// The code for a numeric value, if it is one of ours.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_reasons_are_unique() {
        let mut reasons = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
            assert!(
                reasons.insert(c.reason()),
                "duplicate reason {}",
                c.reason()
            );
        }
        assert_eq!(ErrorCode::ConversationNotFound.code(), 4303);
        assert_eq!(ErrorCode::from_code(1000), None);
    }
}
