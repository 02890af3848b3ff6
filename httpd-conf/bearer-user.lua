-- bearer-user.lua - the authentication step in front of stepup's gate under
-- Apache's mod_fcgid (httpd-conf/apache-fcgid.conf.in).
--
-- Apache 2.4 calls an authorizer (FcgidAuthorizer) only for a request that
-- an authentication module has given a user, and none of Apache's own
-- modules understands "Authorization: Bearer".  This gives the request a
-- placeholder user so that the gate runs; it grants nothing: stepup-fcgi,
-- asked next, checks the bearer token and answers 401 or 403 itself, and
-- only its 200 lets the request through.
function placeholder_user(r)
    r.user = "stepup-gate"
    return apache2.OK
end
