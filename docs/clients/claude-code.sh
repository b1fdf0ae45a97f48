export ANTHROPIC_BASE_URL=http://127.0.0.1:8080   # the gateway, without /v1
export ANTHROPIC_AUTH_TOKEN=unused                # a client key of the gateway (any value for the demo)
claude                                            # its default model names (claude-*) are aliases of the policy
