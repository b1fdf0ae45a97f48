from openai import OpenAI

client = OpenAI(base_url="http://127.0.0.1:8080/v1", api_key="unused")  # the demo needs no key

chat = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Hello!"}])
print("chat:", chat.choices[0].message.content)

response = client.responses.create(model="gpt-5", input="Hello!")  # POST /v1/responses, stored for 30 days
follow_up = client.responses.create(model="gpt-5", input="And again.", previous_response_id=response.id)
print("responses:", follow_up.output_text)
