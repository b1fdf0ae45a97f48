from langchain_openai import ChatOpenAI
from pydantic import BaseModel

llm = ChatOpenAI(base_url="http://127.0.0.1:8080/v1", api_key="unused", model="auto")
print(llm.invoke("Hello!").content)


class City(BaseModel):
    name: str
    population: int


print(llm.with_structured_output(City).invoke("Name a city."))  # JSON schema output through the gateway
print(llm.bind_tools([City]).invoke("Describe a city with the tool.").tool_calls)
