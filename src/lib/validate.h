/*
 * validate.h - pure checks of input values, shared by stepup-fcgi (request
 * bodies and paths) and stepupctl (the same e-mail rule).
 * Each returns NULL when the value is acceptable, else the Weavr error name
 * ("REQUIRED", "NOT_IN", "SIZE", "REGEX", ...).
 */
#ifndef STEPUP_VALIDATE_H
#define STEPUP_VALIDATE_H

/* The {channel} path segment: "SMS" is the only channel. */
const char *validate_channel(const char *channel);

/* A verification code: six ASCII digits. */
const char *validate_verification_code(const char *code);

/* An e-mail address as login accepts it (non-empty, one '@', no spaces). */
const char *validate_email(const char *email);

#endif
