import litellm

response = litellm.completion(
    model="openai/auto",  # openai/ = any OpenAI-compatible server; `auto` is the gateway's model alias
    api_base="http://127.0.0.1:8080/v1",
    api_key="unused",
    messages=[{"role": "user", "content": "Hello!"}],
)
print(response.choices[0].message.content)
