/*
 * handlers.h - one handler per route; one file per API resource.
 *
 *   api_session.c  POST /login_with_password, POST /logout
 *   api_stepup.c   POST /stepup/challenges/otp/{channel}[/verify]
 *   api_factors.c  GET /authentication_factors,
 *                  POST /authentication_factors/otp/{channel}[/verify]
 *   api_gate.c     the FastCGI Authorizer role (any URL)
 *   api_health.c   GET /health
 *   api_metrics.c  GET /metrics
 *
 * A handler runs after the dispatcher has checked the route's flags, so
 * r->api_key is set for ROUTE_API_KEY routes and r->bearer for
 * ROUTE_SESSION routes.
 */
#ifndef STEPUP_HANDLERS_H
#define STEPUP_HANDLERS_H

struct request;

/* The code of every challenge in a sandbox programme (no text is sent). */
#define STEPUP_SANDBOX_CODE "123456"

void handle_login(struct request *r);
void handle_logout(struct request *r);
void handle_stepup_issue(struct request *r);
void handle_stepup_verify(struct request *r);
void handle_factors(struct request *r);
void handle_enrol(struct request *r);
void handle_enrol_verify(struct request *r);
void handle_authorize(struct request *r);
/*
 * A refusal of the gate (or of any route that needs a session): the
 * outcome's answer, or only "401" when the web server will ask again
 * (Apache's mod_fcgid: request.h, refusal_asked_again).
 */
void gate_refuse(struct request *r, const char *outcome);
void handle_health(struct request *r);
void handle_metrics(struct request *r);

#endif
