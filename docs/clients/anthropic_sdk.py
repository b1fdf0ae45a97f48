import anthropic

client = anthropic.Anthropic(base_url="http://127.0.0.1:8080", api_key="unused")  # no /v1: the SDK adds it

weather = {"name": "get_weather", "description": "Weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
question = {"role": "user", "content": "What is the weather in Paris?"}
first = client.messages.create(model="claude-sonnet-4-6", max_tokens=512, tools=[weather], messages=[question])
call = next(block for block in first.content if block.type == "tool_use")
print("tool call:", call.name, call.input)

answer = {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}
with client.messages.stream(model="claude-sonnet-4-6", max_tokens=512, tools=[weather],
                            messages=[question, {"role": "assistant", "content": first.content},
                                      {"role": "user", "content": [answer]}]) as stream:
    for text in stream.text_stream:
        print(text, end="", flush=True)
print()
